import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import { mkdtemp, rm } from 'fs/promises';
import { tmpdir } from 'os';
import { join } from 'path';

/** A running embedded Postgres: PGlite in this process, served over a loopback TCP port. */
export interface EmbeddedPostgres {
  /** Connection URL for `pg` / TypeORM. */
  url: string;
  /** Where PGlite keeps its files. */
  dataDir: string;
  /** Stops the server, closes PGlite, and removes the data dir if it was a temporary one. */
  stop(): Promise<void>;
}

/**
 * Starts PGlite on `dataDir` (default: a fresh temporary directory, removed on stop)
 * and serves it on 127.0.0.1 at a free port. PGlite is one backend: the socket server
 * queues every connection's statements through it one transaction at a time.
 */
export async function startEmbeddedPostgres(dataDir?: string): Promise<EmbeddedPostgres> {
  const temporary = dataDir === undefined;
  const dir = dataDir ?? (await mkdtemp(join(tmpdir(), 'pgflow-sample-')));
  const removeTemporary = () => (temporary ? rm(dir, { recursive: true, force: true }) : Promise.resolve());
  let db: PGlite;
  try {
    db = await PGlite.create(dir);
  } catch (err) {
    await removeTemporary();
    throw err;
  }
  // a few connections: the app's pool, the migration runner's, the NOTIFY probe's
  const server = new PGLiteSocketServer({ db, host: '127.0.0.1', port: 0, maxConnections: 8 });
  try {
    await server.start();
  } catch (err) {
    await db.close();
    await removeTemporary();
    throw err;
  }
  const port = server.getServerConn().split(':').pop();
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    dataDir: dir,
    async stop() {
      await server.stop();
      await db.close();
      await removeTemporary();
    },
  };
}
