import { PgflowInit1732406400000 } from './1732406400000-pgflow-init';

/** pgflow's TypeORM migrations, oldest first; add them to your DataSource's `migrations`. */
export const PGFLOW_MIGRATIONS = [PgflowInit1732406400000];

export { PgflowInit1732406400000 };
