import { DataSource } from 'typeorm';
import { PGFLOW_ENTITIES } from '../../lib/db/entities';
import { createTestDatabase, TestDatabase } from '../support/database';

/** Tables of schema pgflow with no entity, each with the reason. None today. */
const UNMAPPED: Readonly<Record<string, string>> = {
  limit_starts: 'flow-control bookkeeping of start_tasks, without a key of its own',
};

interface TableColumn {
  table_name: string;
  column_name: string;
  data_type: string;
  element_type: string | null;
  is_nullable: 'YES' | 'NO';
}

/**
 * The entities are a hand-kept copy of the tables (users query pgflow's tables through
 * them): every entity column must exist with a compatible type and nullability, every
 * table column must be mapped, and every table must have its entity.
 */
describe('PGFLOW_ENTITIES', () => {
  let db: TestDatabase;
  let ds: DataSource;
  let columns: TableColumn[];
  let primaryKeys: { table_name: string; column_name: string }[];

  beforeAll(async () => {
    db = await createTestDatabase();
    ds = new DataSource({ type: 'postgres', url: db.url, entities: PGFLOW_ENTITIES, logging: false });
    await ds.initialize();
    columns = await ds.query(`
      select c.table_name, c.column_name, c.data_type, e.data_type as element_type, c.is_nullable
        from information_schema.columns c
        left join information_schema.element_types e
          on (e.object_catalog, e.object_schema, e.object_name, e.object_type, e.collection_type_identifier)
           = (c.table_catalog, c.table_schema, c.table_name, 'TABLE', c.dtd_identifier)
       where c.table_schema = 'pgflow'`);
    primaryKeys = await ds.query(`
      select k.table_name, k.column_name
        from information_schema.table_constraints t
        join information_schema.key_column_usage k using (constraint_schema, constraint_name)
       where t.table_schema = 'pgflow' and t.constraint_type = 'PRIMARY KEY'`);
  });

  afterAll(async () => {
    await ds?.destroy();
    await db?.drop();
  });

  it.each(PGFLOW_ENTITIES.map((entity) => [entity.name, entity]))('%s matches its table', (name, entity) => {
    const meta = ds.getMetadata(entity);
    expect(meta.schema).toBe('pgflow');
    const table = meta.tableName;
    const inTable = columns.filter((c) => c.table_name === table);
    expect(inTable.length).toBeGreaterThan(0);
    const problems: string[] = [];
    for (const column of meta.columns) {
      const where = `${name}.${column.propertyName} (pgflow.${table}.${column.databaseName})`;
      const actual = inTable.find((c) => c.column_name === column.databaseName);
      if (!actual) {
        problems.push(`${where}: no such column`);
        continue;
      }
      const type = ds.driver.normalizeType(column);
      const actualType = actual.data_type === 'ARRAY' ? `${actual.element_type}[]` : actual.data_type;
      const expectedType = column.isArray ? `${type}[]` : type;
      if (actualType !== expectedType) problems.push(`${where}: entity says ${expectedType}, table has ${actualType}`);
      const nullable = actual.is_nullable === 'YES';
      if (column.isNullable !== nullable) {
        problems.push(`${where}: entity says ${column.isNullable ? '' : 'not '}nullable, table says ${nullable ? '' : 'not '}nullable`);
      }
    }
    for (const c of inTable) {
      if (!meta.findColumnWithDatabaseName(c.column_name)) problems.push(`pgflow.${table}.${c.column_name}: not mapped by ${name}`);
    }
    const entityKey = meta.primaryColumns.map((c) => c.databaseName).sort();
    const tableKey = primaryKeys.filter((k) => k.table_name === table).map((k) => k.column_name).sort();
    if (entityKey.join() !== tableKey.join()) {
      problems.push(`${name}: primary key (${entityKey.join(', ')}), table's is (${tableKey.join(', ')})`);
    }
    expect(problems).toEqual([]);
  });

  it('has an entity for every table of schema pgflow', async () => {
    const tables: { table_name: string }[] = await ds.query(
      `select table_name from information_schema.tables where table_schema = 'pgflow' and table_type = 'BASE TABLE'`);
    const mapped = new Set(PGFLOW_ENTITIES.map((e) => ds.getMetadata(e).tableName));
    const missing = tables.map((t) => t.table_name).filter((t) => !mapped.has(t) && !(t in UNMAPPED)).sort();
    expect(missing).toEqual([]);
  });
});
