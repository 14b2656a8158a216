import type { EntityManager } from 'typeorm';
import { mapSqlError } from '../../core/errors/sql-error.mapper';
import { Queryable, SQL } from './statement';

/** Options of a flow as `pgflow.create_flow` stores them (null: the default). */
export interface FlowRow {
  slug: string;
  maxAttempts?: number;
  baseDelay?: number;
  timeout?: number;
  runTimeout?: number;
}

/** A step as `pgflow.add_step` stores it. */
export interface StepRow {
  slug: string;
  dependsOn?: readonly string[];
  map?: string;
  initialTasks?: number;
  maxAttempts?: number;
  baseDelay?: number;
  timeout?: number;
  startDelay?: number;
  if?: object;
  ifNot?: object;
  whenUnmet?: string;
  whenExhausted?: string;
  signal?: string;
  signalTimeout?: number;
  subflow?: string;
  /** Whether the step declares a compensation (the method itself lives in the class). */
  compensate?: string | boolean;
}

/** Concurrency and rate limits as `pgflow.set_flow_control` stores them (absent: none). */
export interface FlowControlRow {
  concurrency?: { limit: number; key?: string };
  rateLimit?: { limit: number; periodSeconds: number; key?: string };
}

const json = (v: object | undefined) => (v === undefined ? null : JSON.stringify(v));

/** Slugs of the steps stored for a flow (none: the flow is new). */
export async function storedStepSlugs(db: Queryable, flowSlug: string, manager?: EntityManager): Promise<string[]> {
  const rows = await db.run<{ step_slug: string }>(SQL.stored_step_slugs, [flowSlug], manager);
  return rows.map((r) => r.step_slug);
}

/** Creates a flow or updates its options; typed errors for refused definitions. */
export async function createFlow(db: Queryable, flow: FlowRow, manager?: EntityManager): Promise<void> {
  try {
    await db.run(SQL.create_flow,
      [flow.slug, flow.maxAttempts ?? null, flow.baseDelay ?? null, flow.timeout ?? null, flow.runTimeout ?? null], manager);
  } catch (err) {
    throw mapSqlError(err, { flowSlug: flow.slug });
  }
}

/** Adds a step, or checks a stored one has the same shape and updates its options. */
export async function addStep(db: Queryable, flowSlug: string, s: StepRow, manager?: EntityManager): Promise<void> {
  try {
    await db.run(SQL.add_step, [
      flowSlug, s.slug, s.dependsOn ?? [], s.map ?? null, s.initialTasks ?? null,
      s.maxAttempts ?? null, s.baseDelay ?? null, s.timeout ?? null, s.startDelay ?? null,
      json(s.if), json(s.ifNot), s.whenUnmet ?? 'skip', s.whenExhausted ?? 'fail',
      s.signal ?? null, s.signalTimeout ?? null, s.subflow ?? null, !!s.compensate,
    ], manager);
  } catch (err) {
    throw mapSqlError(err, { flowSlug });
  }
}

/** Replaces the limits of a flow (`stepSlug` null) or of one of its steps. */
export async function setFlowControl(db: Queryable, flowSlug: string, stepSlug: string | null, l: FlowControlRow,
  manager?: EntityManager): Promise<void> {
  try {
    await db.run(SQL.set_flow_control, [
      flowSlug, stepSlug, l.concurrency?.limit ?? null, l.concurrency?.key ?? null,
      l.rateLimit?.limit ?? null, l.rateLimit?.periodSeconds ?? null, l.rateLimit?.key ?? null,
    ], manager);
  } catch (err) {
    throw mapSqlError(err, { flowSlug });
  }
}

/** Marks a flow deprecated (no new runs) or accepts runs again. */
export async function deprecateFlow(db: Queryable, flowSlug: string, deprecated: boolean): Promise<void> {
  try {
    await db.run(SQL.deprecate_flow, [flowSlug, deprecated]);
  } catch (err) {
    throw mapSqlError(err, { flowSlug });
  }
}
