import { useSqlDatabase } from '../support/sql-harness';

describe('migrated schema', () => {
  const { pool } = useSqlDatabase();

  it('has the pgflow tables', async () => {
    const { rows } = await pool().query<{ table_name: string }>(
      `select table_name from information_schema.tables where table_schema = 'pgflow' order by 1`,
    );
    expect(rows.map((r) => r.table_name)).toEqual(
      ['deps', 'flows', 'limit_starts', 'runs', 'signals', 'step_states', 'step_tasks', 'steps', 'workers'],
    );
  });
});
