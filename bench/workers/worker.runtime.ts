import { FromWorker, ToWorker } from '../support/protocol';

/** What each engine's worker process provides. */
export interface BenchWorker {
  /** Starts claiming and running jobs. */
  start(): Promise<void>;
  /** Stops gracefully and closes connections. */
  stop(): Promise<void>;
}

/** Units handled by this process; handlers bump it, the runtime reports it. */
export class Progress {
  handled = 0;
}

/** Connection settings handed to every worker process by the orchestrator. */
export interface WorkerEnv {
  /** the engine's database ('' for engines without one) */
  dbUrl: string;
  redisUrl: string;
  index: number;
}

const REPORT_MS = 20;

function send(m: FromWorker): void {
  process.send?.(m);
}

function workerEnv(): WorkerEnv {
  if (!process.send) throw new Error('worker processes are started by bench/run.ts (they talk to it over IPC)');
  return {
    dbUrl: process.env.BENCH_DB_URL ?? '',
    redisUrl: process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379',
    index: Number(process.env.BENCH_WORKER_INDEX ?? 0),
  };
}

/**
 * Child side of the orchestrator protocol: boot the engine, report ready, start on
 * 'go', report progress every few ms, report memory after a GC on request, stop on
 * 'stop' (or when the orchestrator goes away).
 */
export function runWorker(boot: (progress: Progress, env: WorkerEnv) => Promise<BenchWorker>): void {
  const progress = new Progress();
  let reported = -1;
  const reporter = setInterval(() => {
    if (progress.handled !== reported) {
      reported = progress.handled;
      send({ type: 'progress', handled: reported });
    }
  }, REPORT_MS);

  const fail = (err: unknown) => {
    send({ type: 'failed', message: err instanceof Error ? err.stack ?? err.message : String(err) });
    setTimeout(() => process.exit(1), 50);
  };

  boot(progress, workerEnv()).then((worker) => {
    let stopping = false;
    const stop = async () => {
      if (stopping) return;
      stopping = true;
      clearInterval(reporter);
      try {
        await worker.stop();
      } catch (err) {
        console.error(err);
      }
      process.exit(0);
    };
    process.on('message', (m: ToWorker) => {
      if (m.type === 'go') {
        worker.start().then(() => send({ type: 'started' }), fail);
      } else if (m.type === 'memory') {
        global.gc?.();
        const mem = process.memoryUsage();
        send({ type: 'memory', rss: mem.rss, heapUsed: mem.heapUsed });
      } else if (m.type === 'stop') {
        void stop();
      }
    });
    process.on('disconnect', () => void stop());
    send({ type: 'ready' });
  }, fail);
}
