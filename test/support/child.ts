import { ChildProcess, spawn } from 'child_process';
import { join } from 'path';

/** A child Node process running a TypeScript fixture, with its output collected. */
export interface Child {
  proc: ChildProcess;
  output(): string;
  /** Resolves with the first stdout line matching `pattern`. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** Resolves with the exit code (null when killed by a signal). */
  exited(): Promise<number | null>;
  kill(signal?: NodeJS.Signals): void;
}

const ROOT = join(__dirname, '..', '..');

/** Runs `fixture` under ts-node with `env` added to this process's environment and `args` after it. */
export function startChild(fixture: string, env: Record<string, string>, args: string[] = []): Child {
  const proc = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', fixture, ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const exit = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  proc.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  return {
    proc,
    output: () => out,
    waitFor(pattern, timeoutMs = 30_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const m = out.match(pattern);
          if (m) {
            cleanup();
            resolve(m);
          }
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`child did not print ${pattern} within ${timeoutMs} ms; output:\n${out}`));
        }, timeoutMs);
        const onExit = () => {
          cleanup();
          reject(new Error(`child exited before printing ${pattern}; output:\n${out}`));
        };
        const cleanup = () => {
          clearTimeout(timer);
          proc.stdout?.off('data', check);
          proc.off('exit', onExit);
        };
        proc.stdout?.on('data', check);
        proc.once('exit', onExit);
        check();
      });
    },
    exited: () => exit,
    kill(signal = 'SIGKILL') {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
    },
  };
}
