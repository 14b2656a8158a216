import { ChildProcess, spawn } from 'child_process';
import { readFileSync } from 'fs';
import { join } from 'path';
import { FromWorker, ToWorker } from './protocol';

const LOG_LINES = 60;

/** Options for one worker process. */
export interface SpawnOptions {
  /** Folder of the transpiled sources (support/build.ts). */
  buildDir: string;
  /** Engine key: runs bench/workers/<key>.worker.js. */
  engine: string;
  env: Record<string, string>;
  /** Writes a V8 CPU profile into this folder when the process exits. */
  cpuProfDir?: string;
}

/**
 * One worker process seen from the orchestrator: boot → ready → go → progress … →
 * stop. Its output is kept (last lines) to explain a failure.
 */
export class WorkerProcess {
  handled = 0;
  private readonly proc: ChildProcess;
  private readonly log: string[] = [];
  private readonly exit: Promise<number | null>;
  private listeners = new Set<(m: FromWorker) => void>();
  private failure?: Error;

  constructor(opts: SpawnOptions) {
    const args = ['--expose-gc'];
    if (opts.cpuProfDir) args.push('--cpu-prof', `--cpu-prof-dir=${opts.cpuProfDir}`);
    args.push(join(opts.buildDir, 'bench', 'workers', `${opts.engine}.worker.js`));
    this.proc = spawn(process.execPath, args, {
      env: { ...process.env, ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    const keep = (d: Buffer) => {
      for (const line of d.toString().split('\n')) if (line.trim()) this.log.push(line);
      if (this.log.length > LOG_LINES) this.log.splice(0, this.log.length - LOG_LINES);
    };
    this.proc.stdout?.on('data', keep);
    this.proc.stderr?.on('data', keep);
    this.proc.on('message', (m: FromWorker) => {
      if (m.type === 'progress') this.handled = m.handled;
      if (m.type === 'failed') this.failure = new Error(`${opts.engine} worker failed: ${m.message}\n${this.output()}`);
      for (const l of this.listeners) l(m);
    });
    this.exit = new Promise((resolve) => this.proc.once('exit', (code) => {
      if (code !== 0 && !this.failure) this.failure = new Error(`${opts.engine} worker exited with ${code}\n${this.output()}`);
      for (const l of this.listeners) l({ type: 'failed', message: `exited with ${code}` });
      resolve(code);
    }));
  }

  get pid(): number | undefined {
    return this.proc.pid;
  }

  output(): string {
    return this.log.join('\n');
  }

  send(message: ToWorker): void {
    if (this.proc.connected) this.proc.send(message);
  }

  /** Resolves with the first message of `type`; rejects if the process fails first. */
  next<T extends FromWorker['type']>(type: T, timeoutMs = 60_000): Promise<Extract<FromWorker, { type: T }>> {
    return new Promise((resolve, reject) => {
      if (this.failure) return reject(this.failure);
      const timer = setTimeout(() => done(new Error(`${type} not reported within ${timeoutMs} ms\n${this.output()}`)), timeoutMs);
      const listener = (m: FromWorker) => {
        if (m.type === type) done(undefined, m as Extract<FromWorker, { type: T }>);
        else if (m.type === 'failed') done(this.failure ?? new Error(m.message));
      };
      const done = (err?: Error, m?: Extract<FromWorker, { type: T }>) => {
        clearTimeout(timer);
        this.listeners.delete(listener);
        if (err) reject(err);
        else resolve(m as Extract<FromWorker, { type: T }>);
      };
      this.listeners.add(listener);
    });
  }

  onProgress(fn: () => void): () => void {
    const l = (m: FromWorker) => {
      if (m.type === 'progress' || m.type === 'failed') fn();
    };
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  get failed(): Error | undefined {
    return this.failure;
  }

  /** Peak resident set size so far (VmHWM), in bytes; NaN where /proc is unavailable. */
  peakRss(): number {
    try {
      const m = readFileSync(`/proc/${this.proc.pid}/status`, 'utf8').match(/VmHWM:\s+(\d+) kB/);
      return m ? Number(m[1]) * 1024 : NaN;
    } catch {
      return NaN;
    }
  }

  async memory(): Promise<{ rss: number; heapUsed: number }> {
    const reply = this.next('memory');
    this.send({ type: 'memory' });
    return reply;
  }

  /**
   * Graceful stop; killed after `timeoutMs`. Nothing is measured by then, and a peer
   * stopped in the middle of a capped drain can take long (DBOS with 20,000 workflows
   * started waited out the old 30 s every time), so the wait is short.
   */
  async stop(timeoutMs = 5_000): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    this.send({ type: 'stop' });
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), timeoutMs);
    await this.exit;
    clearTimeout(timer);
  }
}

/** Several worker processes of one engine, driven together. */
export class WorkerGroup {
  private constructor(readonly procs: WorkerProcess[]) {}

  /** Spawns `n` processes and resolves once every one reports ready. */
  static async start(n: number, opts: SpawnOptions): Promise<WorkerGroup> {
    const procs = Array.from({ length: n }, (_, i) =>
      new WorkerProcess({ ...opts, env: { ...opts.env, BENCH_WORKER_INDEX: String(i) } }));
    const group = new WorkerGroup(procs);
    try {
      await Promise.all(procs.map((p) => p.next('ready', 120_000)));
    } catch (err) {
      await group.stop();
      throw err;
    }
    return group;
  }

  /** Lets every process start claiming; resolves once all did. */
  async go(): Promise<void> {
    const started = this.procs.map((p) => p.next('started'));
    for (const p of this.procs) p.send({ type: 'go' });
    await Promise.all(started);
  }

  handled(): number {
    return this.procs.reduce((a, p) => a + p.handled, 0);
  }

  /** Resolves when the processes together handled `n` units, or at `deadline` (epoch ms). */
  waitHandled(n: number, deadline: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const unsubscribe: Array<() => void> = [];
      const finish = (err?: Error) => {
        clearTimeout(timer);
        for (const u of unsubscribe) u();
        if (err) reject(err);
        else resolve();
      };
      const check = () => {
        const failed = this.procs.find((p) => p.failed)?.failed;
        if (failed) finish(failed);
        else if (this.handled() >= n) finish();
      };
      const timer = setTimeout(() => finish(), Math.max(0, deadline - Date.now()));
      for (const p of this.procs) unsubscribe.push(p.onProgress(check));
      check();
    });
  }

  async stop(): Promise<void> {
    await Promise.all(this.procs.map((p) => p.stop()));
  }
}
