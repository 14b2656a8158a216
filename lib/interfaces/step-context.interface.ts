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
  /**
   * Stores the task's latest progress (JSON, at most 64 KiB), extends its lease (not the
   * step `timeout`) and is emitted by `watchRun` as a `progress` event. Rejects with
   * PgflowValidationError on a value that is not JSON or too large; the task keeps running.
   */
  progress(value: Json): Promise<void>;
}

/** What a compensation method knows: the compensated task's context, and why it runs. */
export interface CompensationContext extends StepContext {
  /** The run failed, or was cancelled (`cancelRun`'s `compensate`, the default). */
  reason: 'failed' | 'cancelled';
}

/**
 * A step handler: receives the step input and the context, returns JSON. Declared as
 * a method so that parameters are checked bivariantly: a handler may type its input
 * (`(input: { run: Order }) => …`) without the type accepting `any` anywhere.
 */
export type StepHandler = {
  handle(input: unknown, ctx: StepContext): unknown | Promise<unknown>;
}['handle'];
