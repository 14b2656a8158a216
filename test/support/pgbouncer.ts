import { ChildProcess, spawn } from 'child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'fs';
import { createServer } from 'net';
import { tmpdir } from 'os';
import { join } from 'path';
import { Client } from 'pg';

/** A private PgBouncer in transaction mode in front of the suite's server. */
export interface PgBouncer {
  port: number;
  /** `url` (a database on the suite's server) as reached through this pooler. */
  url(url: string): string;
  /** What it logged so far. */
  log(): string;
  /** Stops it (SIGTERM, SIGKILL after 10 s) and removes its directory. */
  stop(): Promise<void>;
}

export interface PgBouncerOptions {
  /** Server connections per database and user (`default_pool_size`). Default 20. */
  poolSize?: number;
}

const CANDIDATES = [process.env.PGBOUNCER, '/usr/sbin/pgbouncer', '/usr/bin/pgbouncer', '/usr/local/bin/pgbouncer'];

function binary(): string {
  const found = CANDIDATES.find((p): p is string => !!p && existsSync(p));
  if (!found) {
    throw new Error('pgbouncer not found (tried PGBOUNCER, /usr/sbin, /usr/bin, /usr/local/bin): ' +
      'install it, e.g. apt-get install -y pgbouncer');
  }
  return found;
}

/** PgBouncer refuses to run as root; it drops to this user after reading its files. */
function runAs(): string[] {
  if (process.getuid?.() !== 0) return [];
  const passwd = readFileSync('/etc/passwd', 'utf8');
  return ['-u', /^postgres:/m.test(passwd) ? 'postgres' : 'nobody'];
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

async function exitOf(proc: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (proc.exitCode !== null || proc.signalCode !== null) return true;
  let timer: NodeJS.Timeout | undefined;
  const exited = await Promise.race([
    new Promise<boolean>((resolve) => proc.once('exit', () => resolve(true))),
    new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs))),
  ]);
  clearTimeout(timer);
  return exited;
}

/**
 * Starts PgBouncer 1.18-style transaction pooling (no prepared-statement support) for
 * every database of the server `upstreamUrl` points at, and resolves once it serves
 * queries. Its own directory holds pgbouncer.ini and the user list; it logs to stderr.
 */
export async function startPgBouncer(upstreamUrl: string, opts: PgBouncerOptions = {}): Promise<PgBouncer> {
  const upstream = new URL(upstreamUrl);
  const user = decodeURIComponent(upstream.username || 'postgres');
  const password = decodeURIComponent(upstream.password);
  const dir = mkdtempSync(join(tmpdir(), 'pgflow-pgbouncer-'));
  const bin = binary();
  // a port found free can be taken before PgBouncer binds it: try another
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const ini = join(dir, 'pgbouncer.ini');
    writeFileSync(join(dir, 'userlist.txt'), `"${user}" ""\n`);
    writeFileSync(ini, [
      '[databases]',
      `* = host=${upstream.hostname} port=${upstream.port || 5432}` +
        (password ? ` user=${user} password=${password}` : ''),
      '',
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      'unix_socket_dir =',
      'auth_type = trust',
      `auth_file = ${join(dir, 'userlist.txt')}`,
      'pool_mode = transaction',
      `default_pool_size = ${opts.poolSize ?? 20}`,
      'max_client_conn = 1000',
      'ignore_startup_parameters = extra_float_digits,options',
      '',
    ].join('\n'));
    const proc = spawn(bin, [...runAs(), ini], { stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    proc.stdout?.on('data', (d: Buffer) => (log += d.toString()));
    proc.stderr?.on('data', (d: Buffer) => (log += d.toString()));
    const url = (target: string) => {
      const u = new URL(target);
      u.hostname = '127.0.0.1';
      u.port = String(port);
      u.password = '';
      u.username = upstream.username || 'postgres';
      return u.toString();
    };
    const stop = async () => {
      proc.kill('SIGTERM');
      if (!(await exitOf(proc, 10_000))) {
        proc.kill('SIGKILL');
        await exitOf(proc, 10_000);
      }
      rmSync(dir, { recursive: true, force: true });
    };
    const deadline = Date.now() + 15_000;
    let lastError: unknown;
    for (;;) {
      if (proc.exitCode !== null || proc.signalCode !== null) break;
      const client = new Client({ connectionString: url(upstreamUrl), connectionTimeoutMillis: 2000 });
      client.on('error', () => undefined);
      try {
        await client.connect();
        await client.query('select 1');
        await client.end();
        return { port, url, log: () => log, stop };
      } catch (err) {
        lastError = err;
        await client.end().catch(() => undefined);
      }
      if (Date.now() > deadline) {
        await stop();
        throw new Error(`pgbouncer did not serve queries within 15 s (${(lastError as Error)?.message}); log:\n${log}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    // it exited: the port was taken meanwhile, or it cannot start at all
    await exitOf(proc, 1000);
    if (attempt >= 3 || !/Address already in use/i.test(log)) {
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`pgbouncer exited (code ${proc.exitCode}, signal ${proc.signalCode}); log:\n${log}`);
    }
  }
}
