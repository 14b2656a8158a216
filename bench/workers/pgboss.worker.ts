import { DONE_CHANNEL } from '../support/done.listener';
import { loadPeer } from '../support/peer.loader';
import { workerSettings } from '../engines/engine';
import { PGBOSS_QUEUES, PgBossJob, PgBossModule, PgBossSettings } from '../engines/pgboss.types';
import { runWorker } from './worker.runtime';

interface ChainData {
  id: string;
}
interface ItemData {
  id: string;
  n: number;
}

runWorker(async (progress, env) => {
  const settings = workerSettings<PgBossSettings>();
  const { PgBoss: PgBossClass } = loadPeer<PgBossModule>('pg-boss');
  // defaults: `new PgBoss(connectionString)` as in its README; tuned: plus useListenNotify
  const boss = settings.useListenNotify
    ? new PgBossClass({ connectionString: env.dbUrl, useListenNotify: true })
    : new PgBossClass(env.dbUrl);
  boss.on('error', (err) => console.error(`[pg-boss] ${err.message}`));
  boss.on('warning', (w) => console.error(`[pg-boss] warning: ${w.message}`));
  await boss.start();
  const sql = (text: string, values: unknown[]) => boss.getDb().executeSql(text, values);
  const notifyDone = (id: string) => sql(`select pg_notify('${DONE_CHANNEL}', $1)`, [id]);
  const work = async <T>(queue: string, handler: (jobs: Array<PgBossJob<T>>) => Promise<unknown>) => {
    if (settings.work) await boss.work<T>(queue, settings.work, handler);
    else await boss.work<T>(queue, handler);
  };

  return {
    async start() {
      await work(PGBOSS_QUEUES.single, async (jobs) => {
        progress.handled += jobs.length;
      });
      const [one, two, three] = PGBOSS_QUEUES.chain;
      await work<ChainData>(one, async (jobs) => Promise.all(jobs.map((j) => boss.send(two, j.data))));
      await work<ChainData>(two, async (jobs) => Promise.all(jobs.map((j) => boss.send(three, j.data))));
      await work<ChainData>(three, async (jobs) => Promise.all(jobs.map((j) => notifyDone(j.data.id))));
      await work<ItemData>(PGBOSS_QUEUES.item, async (jobs) => {
        const left = await sql('update bench_fanout set remaining = remaining - $2 where id = $1 returning remaining',
          [jobs[0].data.id, jobs.length]);
        if (left.rows[0]?.remaining === 0) await boss.send(PGBOSS_QUEUES.total, { id: jobs[0].data.id });
      });
      await work<ChainData>(PGBOSS_QUEUES.total, async (jobs) => Promise.all(jobs.map((j) => notifyDone(j.data.id))));
    },
    stop: () => boss.stop({ graceful: true, timeout: 10_000 }),
  };
});
