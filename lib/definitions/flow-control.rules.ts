import { FlowControlOptions } from '../interfaces/workflow-options.interface';

/** A flow's or step's limits as stored (`pgflow.set_flow_control`). */
export interface FlowControlDefinition {
  concurrency?: { limit: number; key?: string };
  rateLimit?: { limit: number; periodSeconds: number; key?: string };
}

const MAX_INT = 2_147_483_647;
/** Dot path segments: anything but an empty segment (`a..b`, `.a`, `a.`). */
const KEY_PATH = /^[^.]+(\.[^.]+)*$/;

const show = (v: unknown): string => (typeof v === 'string' ? JSON.stringify(v) : String(JSON.stringify(v) ?? v));

function intProblem(name: string, value: unknown, min: number): string | null {
  return typeof value === 'number' && Number.isInteger(value) && value >= min && value <= MAX_INT
    ? null : `${name} must be an integer >= ${min} (got ${show(value)})`;
}

function keyProblem(name: string, value: unknown): string | null {
  if (value === undefined) return null;
  return typeof value === 'string' && KEY_PATH.test(value) && value.length <= 1024
    ? null : `${name} must be a dot path string into the run input such as "tenant.id" (got ${show(value)})`;
}

function objectProblem(name: string, value: unknown, allowed: string[]): string | null {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return `${name} must be an object (got ${show(value)})`;
  const unknown = Object.keys(value).filter((k) => !allowed.includes(k));
  return unknown.length ? `${name} has unknown option(s) ${unknown.join(', ')}` : null;
}

/**
 * Checks `concurrency` and `rateLimit` of a flow or step; returns the problems (each
 * naming the option, e.g. `concurrency.limit must be an integer >= 1 (got 0)`) and the
 * limits as they are stored.
 */
export function checkFlowControl(opts: FlowControlOptions): { problems: string[]; limits: FlowControlDefinition } {
  const problems: string[] = [];
  const limits: FlowControlDefinition = {};
  const c: unknown = opts.concurrency;
  if (c !== undefined) {
    const found = objectProblem('concurrency', c, ['limit', 'key']) ?? (() => {
      const o = c as Record<string, unknown>;
      return [intProblem('concurrency.limit', o.limit, 1), keyProblem('concurrency.key', o.key)]
        .filter((p): p is string => p !== null).join('; ') || null;
    })();
    if (found) problems.push(found);
    else limits.concurrency = { limit: opts.concurrency!.limit, key: opts.concurrency!.key };
  }
  const r: unknown = opts.rateLimit;
  if (r !== undefined) {
    const found = objectProblem('rateLimit', r, ['limit', 'periodSeconds', 'key']) ?? (() => {
      const o = r as Record<string, unknown>;
      return [intProblem('rateLimit.limit', o.limit, 1), intProblem('rateLimit.periodSeconds', o.periodSeconds, 1),
        keyProblem('rateLimit.key', o.key)].filter((p): p is string => p !== null).join('; ') || null;
    })();
    if (found) problems.push(found);
    else limits.rateLimit = { limit: opts.rateLimit!.limit, periodSeconds: opts.rateLimit!.periodSeconds, key: opts.rateLimit!.key };
  }
  return { problems, limits };
}
