import { DataSource } from 'typeorm';
import { PGFLOW_MIGRATIONS } from '../db/pgflow-migrations';
import { Queryable } from '../db/queries';
import { CliConnectionError, CliUsageError } from './cli.errors';

/** The one connection pool a CLI command uses, closed when the command is done. */
export interface CliDatabase extends Queryable {
  /** Knows pgflow's migrations and the migrations table, for `migrate` and `status`. */
  dataSource: DataSource;
  close(): Promise<void>;
}

/** Where to connect: `--url`, else DATABASE_URL; throws CliUsageError when neither is a postgres URL. */
export function databaseUrl(flag: string | undefined, env: NodeJS.ProcessEnv): URL {
  const [source, text] = flag !== undefined ? ['--url', flag] : ['DATABASE_URL', env.DATABASE_URL];
  if (text === undefined || text === '') {
    throw new CliUsageError('no database given: pass --url <postgres url> or set DATABASE_URL');
  }
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new CliUsageError(`${source} is not a URL: expected postgres://user@host:port/database`);
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new CliUsageError(`${source} must start with postgres:// or postgresql:// (got ${url.protocol}//…)`);
  }
  return url;
}

/** host:port/database, without credentials: what error messages may show. */
export function describeTarget(url: URL): string {
  // postgres:///db?host=/var/run/postgresql names a socket directory
  const host = url.searchParams.get('host') ?? (url.hostname || 'localhost');
  return `${host}:${url.port || '5432'}${url.pathname.length > 1 ? url.pathname : ''}`;
}

/** Opens a small pool on the URL; throws CliConnectionError with the server's reason when it cannot. */
export async function openDatabase(url: URL, migrationsTable?: string): Promise<CliDatabase> {
  const dataSource = new DataSource({
    type: 'postgres',
    url: url.toString(),
    migrations: PGFLOW_MIGRATIONS,
    ...(migrationsTable ? { migrationsTableName: migrationsTable } : {}),
    applicationName: 'nestjs-pgflow-cli',
    connectTimeoutMS: 10_000,
    poolSize: 2,
    logging: false,
  });
  try {
    await dataSource.initialize();
  } catch (err) {
    throw new CliConnectionError(`cannot connect to ${describeTarget(url)}: ${reason(err)}`);
  }
  return {
    dataSource,
    run: (statement, params) => dataSource.query(statement.text, [...params]),
    close: () => dataSource.destroy(),
  };
}

/** A connection error's reason; Node reports a host with several addresses as an AggregateError with no message. */
function reason(err: unknown): string {
  const e = err as { message?: string; code?: string; errors?: unknown[] } | undefined;
  if (e?.message) return e.message;
  const first = e?.errors?.[0] as { message?: string } | undefined;
  return first?.message ?? e?.code ?? String(err);
}
