import { Queryable, SQL } from './statement';

/** NOTIFY on `channel` from the given connection (pool), as pgflow's functions do. */
export async function notify(db: Queryable, channel: string, payload = ''): Promise<void> {
  await db.run(SQL.notify, [channel, payload]);
}
