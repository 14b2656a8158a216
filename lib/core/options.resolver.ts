import { randomBytes } from 'crypto';
import { hostname } from 'os';
import { DataSource, DataSourceOptions } from 'typeorm';
import { PgflowValidationError } from './errors/pgflow.error';
import { PgflowModuleOptions } from '../interfaces/module-options.interface';
import { slugProblem } from './slug';

/** Worker settings with every default applied. */
export interface ResolvedWorkerOptions {
  enabled: boolean;
  /** Flows this process may execute; undefined: every flow it has handlers for. */
  flows?: readonly string[];
  batchSize: number;
  maxConcurrency: number;
  pollIntervalMs: number;
  workerId: string;
  heartbeatIntervalMs: number;
  leaseSeconds: number;
  shutdownTimeoutMs: number;
  autoStart: boolean;
}

/** `PgflowModuleOptions` validated once at boot, every default applied; injected everywhere. */
export interface ResolvedPgflowOptions {
  dataSource: DataSource | DataSourceOptions;
  migrationsRun: boolean;
  preparedStatements: boolean;
  worker: ResolvedWorkerOptions;
  retention?: { olderThanSeconds: number; intervalMs: number };
}

/** The defaults `PgflowModuleOptions` documents, in one place. */
export const OPTION_DEFAULTS = {
  migrationsRun: false,
  preparedStatements: true,
  worker: {
    enabled: true,
    batchSize: 10,
    maxConcurrency: 10,
    pollIntervalMs: 1000,
    heartbeatIntervalMs: 5000,
    leaseSeconds: 30,
    shutdownTimeoutMs: 30_000,
    autoStart: true,
  },
  retention: { intervalMs: 60_000 },
} as const;

const MAX_INT = 2_147_483_647;

function invalid(option: string, rule: string, value: unknown): never {
  throw new PgflowValidationError(`invalid option ${option}: ${rule} (got ${describe(value)})`);
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || value === null || value === undefined) {
    return String(value);
  }
  return Array.isArray(value) ? 'an array' : typeof value;
}

function bool(option: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') invalid(option, 'must be true or false', value);
  return value;
}

function int(option: string, value: unknown, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > MAX_INT) {
    invalid(option, `must be an integer >= ${min}`, value);
  }
  return value;
}

function object<T>(option: string, value: T | undefined): Partial<T> {
  if (value === undefined) return {};
  if (value === null || typeof value !== 'object' || Array.isArray(value)) invalid(option, 'must be an object', value);
  return value;
}

function resolveWorker(given: PgflowModuleOptions['worker']): ResolvedWorkerOptions {
  const w = object('worker', given);
  const d = OPTION_DEFAULTS.worker;
  let flows: string[] | undefined;
  if (w.flows !== undefined) {
    if (!Array.isArray(w.flows)) invalid('worker.flows', 'must be an array of flow slugs', w.flows);
    for (const slug of w.flows) {
      const problem = slugProblem(slug);
      if (problem) throw new PgflowValidationError(`invalid option worker.flows: ${problem}`);
    }
    flows = [...w.flows];
  }
  if (w.workerId !== undefined && (typeof w.workerId !== 'string' || !w.workerId.trim() || w.workerId.length > 200)) {
    invalid('worker.workerId', 'must be a non-empty string of at most 200 characters', w.workerId);
  }
  return {
    enabled: bool('worker.enabled', w.enabled, d.enabled),
    flows,
    batchSize: int('worker.batchSize', w.batchSize, d.batchSize, 1),
    maxConcurrency: int('worker.maxConcurrency', w.maxConcurrency, d.maxConcurrency, 1),
    pollIntervalMs: int('worker.pollIntervalMs', w.pollIntervalMs, d.pollIntervalMs, 1),
    workerId: w.workerId ?? `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`,
    heartbeatIntervalMs: int('worker.heartbeatIntervalMs', w.heartbeatIntervalMs, d.heartbeatIntervalMs, 1),
    leaseSeconds: int('worker.leaseSeconds', w.leaseSeconds, d.leaseSeconds, 2),
    shutdownTimeoutMs: int('worker.shutdownTimeoutMs', w.shutdownTimeoutMs, d.shutdownTimeoutMs, 0),
    autoStart: bool('worker.autoStart', w.autoStart, d.autoStart),
  };
}

function resolveRetention(given: PgflowModuleOptions['retention']): ResolvedPgflowOptions['retention'] {
  if (given === undefined) return undefined;
  if (given === null || typeof given !== 'object') throw new PgflowValidationError('retention must be an object');
  const { olderThanSeconds, intervalMs } = given;
  if (typeof olderThanSeconds !== 'number' || !Number.isFinite(olderThanSeconds) || olderThanSeconds <= 0) {
    throw new PgflowValidationError(`retention.olderThanSeconds must be a positive number of seconds ` +
      `(got ${String(olderThanSeconds)})`);
  }
  if (intervalMs !== undefined && (!Number.isInteger(intervalMs) || intervalMs <= 0)) {
    throw new PgflowValidationError(`retention.intervalMs must be a positive integer (got ${String(intervalMs)})`);
  }
  return { olderThanSeconds, intervalMs: intervalMs ?? OPTION_DEFAULTS.retention.intervalMs };
}

/**
 * Validates the module options and applies their defaults. Throws PgflowValidationError
 * naming the option, so a bad setting fails the boot instead of misbehaving at run time.
 */
export function resolvePgflowOptions(options: PgflowModuleOptions): ResolvedPgflowOptions {
  const o = object('(module options)', options);
  if (o.dataSource === undefined || o.dataSource === null || typeof o.dataSource !== 'object') {
    invalid('dataSource', 'must be a TypeORM DataSource or DataSourceOptions', o.dataSource);
  }
  return {
    dataSource: o.dataSource,
    migrationsRun: bool('migrationsRun', o.migrationsRun, OPTION_DEFAULTS.migrationsRun),
    preparedStatements: bool('preparedStatements', o.preparedStatements, OPTION_DEFAULTS.preparedStatements),
    worker: resolveWorker(o.worker),
    retention: resolveRetention(o.retention),
  };
}
