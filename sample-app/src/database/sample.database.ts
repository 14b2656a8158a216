import { startEmbeddedPostgres } from './embedded-postgres';

/** The Postgres server the sample talks to. */
export interface SampleDatabase {
  url: string;
  /** Embedded PGlite (no LISTEN/NOTIFY, one transaction at a time) rather than a real server. */
  embedded: boolean;
  /** One line saying which database is used. */
  description: string;
  /** Releases it (stops the embedded server; nothing for DATABASE_URL). */
  stop(): Promise<void>;
}

/** `DATABASE_URL` when set, else an embedded PGlite in `dataDir` (default: a temporary directory). */
export async function openSampleDatabase(databaseUrl: string | undefined, dataDir?: string): Promise<SampleDatabase> {
  if (databaseUrl) {
    const { host, pathname } = new URL(databaseUrl);
    return {
      url: databaseUrl,
      embedded: false,
      description: `DATABASE_URL (${host}${pathname})${dataDir ? '; --data ignored' : ''}`,
      stop: async () => undefined,
    };
  }
  const pg = await startEmbeddedPostgres(dataDir);
  return {
    url: pg.url,
    embedded: true,
    description: `embedded PGlite on ${new URL(pg.url).host} (data: ${pg.dataDir}${dataDir ? '' : ', removed on exit'})`,
    stop: () => pg.stop(),
  };
}
