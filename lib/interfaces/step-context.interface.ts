/** JSON value a handler may return. */
export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

/** What a step handler knows about the task it runs. */
export interface StepContext {
  runId: string;
  flowSlug: string;
  stepSlug: string;
  /** Index of this task within its step (map element index, or initialTasks index). */
  taskIndex: number;
  /** 1-based attempt number. */
  attempt: number;
  /** The run's input. */
  runInput: unknown;
  /** Aborted on step timeout, run cancellation, or the shutdown deadline. */
  signal: AbortSignal;
  workerId: string;
}

/** A step handler: receives the step input and the context, returns JSON. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- inputs are user-shaped JSON
export type StepHandler = (input: any, ctx: StepContext) => unknown | Promise<unknown>;
