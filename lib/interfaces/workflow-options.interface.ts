import { Type } from '@nestjs/common';

/** Retry and timeout options shared by workflows and steps (seconds). */
export interface RetryOptions {
  /** Attempts including the first. Default `3`. */
  maxAttempts?: number;
  /** Base of the exponential retry delay in seconds. Default `1`. */
  baseDelay?: number;
  /** Seconds before a running attempt is aborted and failed. Default `60`. */
  timeout?: number;
}

/**
 * At most `limit` tasks (of the flow, or of the step) run at once across all worker
 * processes; a task counts from its claim until its result is stored or its lease expires.
 */
export interface ConcurrencyOptions {
  /** Tasks running at once, an integer >= 1. */
  limit: number;
  /**
   * Dot path into the run input (`'tenant.id'`): the limit holds per distinct value
   * (compared as JSON text; runs without the value share one bucket). Default: none
   * (one limit for all runs). `startRun({ concurrencyKey })` replaces the value.
   */
  key?: string;
}

/**
 * At most `limit` task starts (claims of first attempts and retries, by the database
 * clock) in any window of `periodSeconds`: a sliding window, never exceeded at window
 * boundaries.
 */
export interface RateLimitOptions {
  /** Task starts per window, an integer >= 1. */
  limit: number;
  /** Window length in seconds, an integer >= 1. */
  periodSeconds: number;
  /** Dot path into the run input, as `ConcurrencyOptions.key`. Default: none. */
  key?: string;
}

/** Concurrency and rate limits of a flow or a step, enforced by the database at claim time. */
export interface FlowControlOptions {
  /** Default: no concurrency limit. */
  concurrency?: ConcurrencyOptions;
  /** Default: no rate limit. */
  rateLimit?: RateLimitOptions;
}

/** Options of a flow as a whole (`@Workflow`, `FlowBuilder.createFlow`). */
export interface FlowOptions extends RetryOptions, FlowControlOptions {
  /**
   * Seconds from a run's start: a run not finished by then fails with
   * `run timed out after <n> s`, its unfinished steps cancelled and running handlers
   * aborted. Default: none.
   */
  runTimeout?: number;
}

/** Options of `@Workflow`. */
export interface WorkflowOptions extends FlowOptions {
  /** Flow slug, `^[a-zA-Z_][a-zA-Z0-9_]*$`, at most 128 characters. */
  slug: string;
  /** class-validator DTO the run input must satisfy. Default: none. */
  input?: Type<unknown>;
  /**
   * Cron expression (`cron` package syntax: 5 fields, or 6 with seconds; in
   * `cronTimezone`). Each tick starts one run, however many instances tick. Default: none.
   */
  cron?: string;
  /** Input of runs started by `cron`, checked against `input` at boot. Default `{}`. */
  cronInput?: unknown;
  /** IANA time zone `cron` is read in (`'Europe/Paris'`). Default: the process's time zone. */
  cronTimezone?: string;
}

/** Options of `@Step`. */
export interface StepOptions extends RetryOptions, FlowControlOptions {
  /** Step slug. Default: the method name. */
  slug?: string;
  /** Steps whose outputs this step needs. Default: none (a root), or the previous step in sequential form. */
  dependsOn?: string[];
  /** Make this a map step over `'run'` (the run input) or a dependency's output array. */
  map?: 'run' | string;
  /** Run N tasks of this single step with the same input; output is the array of their outputs. */
  initialTasks?: number;
  /** Seconds to wait before the step's tasks become claimable. Default `0`. */
  startDelay?: number;
  /** JSON containment pattern the step input must match, or the step is unmet. */
  if?: object;
  /** JSON containment pattern the step input must not match, or the step is unmet. */
  ifNot?: object;
  /** What an unmet condition does. Default `'skip'`. */
  whenUnmet?: 'skip' | 'skip-cascade';
  /** What exhausted attempts (or a wait past `signalTimeout`) do. Default `'fail'` (the run fails). */
  whenExhausted?: 'fail' | 'skip' | 'skip-cascade';
  /**
   * Once ready, the step waits (status `'waiting'`, holding no task) for a signal of
   * this name sent to the run (`PgflowClient.signal`, `pgflow.send_signal`); its
   * handler gets the payload as `input.signal`. A slug-like name, one step per name
   * and flow. Default: none (the step does not wait).
   */
  signal?: string;
  /**
   * Seconds the step waits for its signal; then it is exhausted with
   * `signal '<name>' not received within <n> s` and `whenExhausted` decides.
   * Default: none (it waits as long as the run lives).
   */
  signalTimeout?: number;
  /**
   * Each task of this step starts one run of that flow (a `@Workflow` class or a flow
   * slug) with the handler's return value as input (checked against the child's DTO) and
   * completes with the child run's output, in the transaction that completes the child.
   * A failed or cancelled child exhausts the task. With `map`: one child per element.
   */
  subflow?: Type<unknown> | string;
  /**
   * Name of a method of the workflow class that undoes this step, called with the
   * step's output (one call per completed task) when the run fails or is cancelled,
   * in reverse dependency order: `(output, ctx: CompensationContext) => unknown`.
   */
  compensate?: string;
}
