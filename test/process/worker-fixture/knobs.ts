/**
 * Settings of one fixture worker process, read once from its environment.
 *
 * Required: DATABASE_URL, WORKER_ID. Optional:
 * - FLOWS                 comma-separated flow slugs this worker executes (default: all)
 * - BEHAVIOR              how blocking steps behave here: `normal` (default), `hang`
 *                         (crashy.hold never resolves, ignoring its signal) or `freeze`
 *                         (stale.slow blocks the event loop until RELEASE_FILE exists)
 * - RELEASE_FILE          file whose creation ends a `freeze`
 * - HANDLER_DELAY_MS      async delay (honouring ctx.signal) in fanout.square and sleepy.nap (default 0)
 * - STEP_TIMEOUT          timeout in seconds of crashy.hold (default 3).
 * - LEASE_SECONDS         worker.leaseSeconds (default 8: the crash tests SIGKILL a worker and
 *                         wait for its leases to expire)
 *                         Definitions are shared, so every worker of a test gets the same value.
 * - MAX_CONCURRENCY, BATCH_SIZE, POLL_INTERVAL_MS, SHUTDOWN_TIMEOUT_MS, HEARTBEAT_INTERVAL_MS,
 *   POOL_SIZE             worker / DataSource options
 * - STATS_INTERVAL_MS     print `STATS rss=<bytes> heap=<bytes>` this often (default: never)
 */
export interface Knobs {
  databaseUrl: string;
  workerId: string;
  flows?: string[];
  behavior: 'normal' | 'hang' | 'freeze';
  releaseFile?: string;
  handlerDelayMs: number;
  stepTimeout: number;
  leaseSeconds: number;
  maxConcurrency: number;
  batchSize: number;
  pollIntervalMs: number;
  shutdownTimeoutMs: number;
  heartbeatIntervalMs: number;
  poolSize: number;
  statsIntervalMs: number;
}

function int(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) throw new Error(`${name} must be a non-negative integer (got ${raw})`);
  return value;
}

export function readKnobs(env: NodeJS.ProcessEnv = process.env): Knobs {
  const databaseUrl = env.DATABASE_URL;
  const workerId = env.WORKER_ID;
  if (!databaseUrl || !workerId) throw new Error('DATABASE_URL and WORKER_ID are required');
  const behavior = env.BEHAVIOR ?? 'normal';
  if (behavior !== 'normal' && behavior !== 'hang' && behavior !== 'freeze') {
    throw new Error(`BEHAVIOR must be normal, hang or freeze (got ${behavior})`);
  }
  return {
    databaseUrl,
    workerId,
    flows: env.FLOWS ? env.FLOWS.split(',').map((f) => f.trim()).filter(Boolean) : undefined,
    behavior,
    releaseFile: env.RELEASE_FILE || undefined,
    handlerDelayMs: int(env, 'HANDLER_DELAY_MS', 0),
    stepTimeout: Math.max(1, int(env, 'STEP_TIMEOUT', 3)),
    leaseSeconds: Math.max(2, int(env, 'LEASE_SECONDS', 8)),
    maxConcurrency: Math.max(1, int(env, 'MAX_CONCURRENCY', 10)),
    batchSize: Math.max(1, int(env, 'BATCH_SIZE', 10)),
    pollIntervalMs: Math.max(10, int(env, 'POLL_INTERVAL_MS', 500)),
    shutdownTimeoutMs: int(env, 'SHUTDOWN_TIMEOUT_MS', 5000),
    heartbeatIntervalMs: Math.max(100, int(env, 'HEARTBEAT_INTERVAL_MS', 1000)),
    poolSize: Math.max(1, int(env, 'POOL_SIZE', 4)),
    statsIntervalMs: int(env, 'STATS_INTERVAL_MS', 0),
  };
}

/**
 * The knobs of this process. Decorator options (step timeouts) are evaluated when
 * the workflow classes load, before Nest exists, so they read this module value;
 * everything else receives it through DI.
 */
export const KNOBS: Knobs = readKnobs();

/** DI token of the knobs. */
export const KNOBS_TOKEN = Symbol('KNOBS');
