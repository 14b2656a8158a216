import { Client } from 'pg';
import { PgflowDatabase } from '../../lib/db/pgflow.database';
import { PooledApp, REFUSED_WARNING, usePooledDatabase } from './pooler-harness';

// Each call inserts one row naming the server connection (backend) it ran on, so a
// test sees where a statement ran and that a refused and retried call ran once.
const HIT = 'insert into hits (pid, tag) values (pg_backend_pid(), $1) returning pid';

interface Hit {
  pid: number;
}

async function hit(app: PooledApp, tag: string): Promise<number> {
  const [row] = await app.app.get(PgflowDatabase).run<Hit>({ name: 'test_hit', text: HIT, prepared: true }, [tag]);
  return row.pid;
}

/** A client-only app with one connection: its named statements go where the test sends them. */
const oneConnection = { worker: { enabled: false }, pgflow: {} } as const;

describe('named statements refused by PgBouncer: 42P05, another client prepared the name on the server connection', () => {
  // one server connection: every client's statements run on it
  const { createApp, pooledUrl, query } = usePooledDatabase({ poolSize: 1 });

  beforeAll(async () => {
    await query('create table hits (id serial primary key, pid int not null, tag text not null)');
  });

  it('falls back to unnamed statements, runs the refused call once, and warns once', async () => {
    const url = pooledUrl();
    const ds = { type: 'postgres' as const, url, poolSize: 1 };
    const a = await createApp({ ...oneConnection, pgflow: { dataSource: ds } });
    const b = await createApp({ ...oneConnection, pgflow: { dataSource: ds } });
    const server = await hit(a, 'a1'); // a prepares the name there
    expect(await hit(b, 'b1')).toBe(server); // b's Parse of the same name: 42P05, then unnamed
    expect(await hit(b, 'b2')).toBe(server);
    expect(await hit(a, 'a2')).toBe(server); // a's statement is still there, named
    expect(await query('select tag from hits order by id')).toEqual(['a1', 'b1', 'b2', 'a2'].map((tag) => ({ tag })));

    expect(a.warnings()).toEqual([]);
    expect(b.warnings()).toEqual([expect.stringMatching(REFUSED_WARNING)]);
    expect(b.warnings()[0]).toMatch(/^the server refused a named prepared statement \(42P05 prepared statement "test_hit_[0-9a-f]{12}" already exists\) — a transaction-mode pooler such as PgBouncer/);

    // preparedStatements: false never sends a named statement: nothing to refuse
    const c = await createApp({ ...oneConnection, pgflow: { dataSource: ds, preparedStatements: false } });
    await hit(c, 'c1');
    expect(c.warnings()).toEqual([]);
    const direct = new Client({ connectionString: url });
    await direct.connect();
    try {
      // the one server connection holds only a's statement
      expect((await direct.query(`select name from pg_prepared_statements`)).rows)
        .toEqual([{ name: expect.stringMatching(/^test_hit_[0-9a-f]{12}$/) }]);
    } finally {
      await direct.end();
    }
  });
});

describe('named statements refused by PgBouncer: 26000, the call reached a server connection that never prepared it', () => {
  const { createApp, pooledUrl, query } = usePooledDatabase({ poolSize: 3 });

  beforeAll(async () => {
    await query('create table hits (id serial primary key, pid int not null, tag text not null)');
  });

  it('falls back to unnamed statements, runs the refused call once, and warns once', async () => {
    const url = pooledUrl();
    const app = await createApp({ ...oneConnection, pgflow: { dataSource: { type: 'postgres', url, poolSize: 1 } } });
    const prepared = await hit(app, 'first');

    // hold the server connection that has the statement in a transaction of another client
    const blockers: Client[] = [];
    let holder: Client | undefined;
    try {
      while (!holder) {
        if (blockers.length === 3) throw new Error('no client got the server connection that prepared the statement');
        const blocker = new Client({ connectionString: url });
        await blocker.connect();
        blockers.push(blocker);
        await blocker.query('begin');
        const [{ pid }] = (await blocker.query('select pg_backend_pid() as pid')).rows as Hit[];
        if (pid === prepared) holder = blocker;
      }
      for (const other of blockers) if (other !== holder) await other.query('commit');

      // the app's connection thinks the statement is prepared and sends only Bind: 26000, then unnamed
      const elsewhere = await hit(app, 'second');
      expect(elsewhere).not.toBe(prepared);
      expect(await hit(app, 'third')).not.toBe(prepared);
    } finally {
      for (const blocker of blockers) await blocker.end();
    }
    expect(await query('select tag from hits order by id')).toEqual(['first', 'second', 'third'].map((tag) => ({ tag })));
    expect(app.warnings()).toEqual([expect.stringMatching(REFUSED_WARNING)]);
    expect(app.warnings()[0]).toMatch(/\(26000 prepared statement "test_hit_[0-9a-f]{12}" does not exist\)/);
  });
});
