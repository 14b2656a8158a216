import { loadPeer } from '../support/peer.loader';
import { workerSettings } from '../engines/engine';
import { BULLMQ_PREFIX, BULLMQ_QUEUES, BullJob, BullMQModule, BullMQSettings, BullWorker, redisConnection } from '../engines/bullmq.types';
import { runWorker } from './worker.runtime';

runWorker(async (progress, env) => {
  const bull = loadPeer<BullMQModule>('bullmq');
  const settings = workerSettings<BullMQSettings>();
  const opts = { connection: redisConnection(env.redisUrl), prefix: BULLMQ_PREFIX, autorun: false, ...settings };
  const processors: Record<string, (job: BullJob) => Promise<unknown>> = {
    [BULLMQ_QUEUES.single]: async () => {
      progress.handled++;
      return null;
    },
    [BULLMQ_QUEUES.chain]: async (job) => job.name,
    [BULLMQ_QUEUES.fanout]: async (job) => {
      if (job.name !== 'total') return (job.data as { n: number }).n;
      const values = await job.getChildrenValues();
      return Object.values(values).reduce<number>((a, v) => a + Number(v), 0);
    },
  };
  const workers: BullWorker[] = Object.entries(processors).map(([name, fn]) => new bull.Worker(name, fn, opts));
  for (const w of workers) w.on('error', (err) => console.error(`[bullmq] ${err.message}`));
  await Promise.all(workers.map((w) => w.waitUntilReady()));
  return {
    async start() {
      for (const w of workers) w.run().catch((err: Error) => console.error(`[bullmq] ${err.message}`));
    },
    async stop() {
      await Promise.all(workers.map((w) => w.close()));
    },
  };
});
