import { BenchConfig } from '../support/bench.config';
import { loadPeer } from '../support/peer.loader';
import { Engine, SETTINGS_ENV, Workload, workloadsOf } from './engine';
import {
  BULLMQ_DEFAULTS, BULLMQ_PREFIX, BULLMQ_QUEUES, BULLMQ_TUNED, BULLMQ_VERSION, BullFlowProducer, BullMQModule,
  BullMQSettings, BullQueue, BullQueueEvents, redisConnection,
} from './bullmq.types';

const ADD_CHUNK = 1000;

/** BullMQ on Redis: flows (FlowProducer) for the chain and the fan-out. */
export class BullMQEngine implements Engine {
  readonly family = 'bullmq';
  readonly worker = 'bullmq';
  readonly key: string;
  readonly label: string;
  readonly workloads: ReadonlySet<Workload>;
  readonly notes: string[];
  private readonly settings: BullMQSettings;

  constructor(readonly kind: 'defaults' | 'tuned') {
    this.key = `bullmq-${kind}`;
    this.settings = kind === 'tuned' ? BULLMQ_TUNED : BULLMQ_DEFAULTS;
    this.label = kind === 'tuned' ? `BullMQ, Redis (tuned: concurrency ${BULLMQ_TUNED.concurrency})` : 'BullMQ, Redis (defaults)';
    this.workloads = workloadsOf(kind);
    this.notes = [kind === 'tuned'
      ? `new Worker(queue, processor, { connection, concurrency: ${BULLMQ_TUNED.concurrency} }) per queue — the concurrency ` +
        'factor of its docs (docs.bullmq.io/guide/workers/concurrency; 10 to 500 tried, 100 and 200 best); defaults otherwise ' +
        '(completed jobs kept). Chain: a FlowProducer flow three ← two ← one; fan-out: a flow whose parent sums ' +
        'getChildrenValues(); completion seen through job.waitUntilFinished(QueueEvents)'
      : `BullMQ ${BULLMQ_VERSION}, Redis 127.0.0.1: new Worker(queue, processor, { connection }) per queue, as its quick ` +
        'start — concurrency 1, completed jobs kept'];
  }
  private queues: BullQueue[] = [];
  private single?: BullQueue;
  private flows?: BullFlowProducer;
  private events = new Map<string, BullQueueEvents>();

  async setup(config: BenchConfig): Promise<void> {
    const bull = loadPeer<BullMQModule>('bullmq');
    const opts = { connection: redisConnection(config.redisUrl), prefix: BULLMQ_PREFIX };
    this.queues = Object.values(BULLMQ_QUEUES).map((name) => new bull.Queue(name, opts));
    this.single = this.queues[0];
    await Promise.all(this.queues.map((q) => q.waitUntilReady()));
    for (const name of [BULLMQ_QUEUES.chain, BULLMQ_QUEUES.fanout]) {
      const ev = new bull.QueueEvents(name, opts);
      await ev.waitUntilReady();
      this.events.set(name, ev);
    }
    this.flows = new bull.FlowProducer(opts);
    await this.reset();
  }

  async teardown(): Promise<void> {
    await this.reset().catch(() => undefined);
    await this.flows?.close();
    for (const ev of this.events.values()) await ev.close();
    for (const q of this.queues) await q.close();
  }

  workerEnv(): Record<string, string> {
    return { [SETTINGS_ENV]: JSON.stringify(this.settings) };
  }

  async reset(): Promise<void> {
    for (const q of this.queues) await q.obliterate({ force: true });
  }

  async enqueueSingles(n: number): Promise<void> {
    const queue = this.queue();
    for (let done = 0; done < n; done += ADD_CHUNK) {
      await queue.addBulk(Array.from({ length: Math.min(ADD_CHUNK, n - done) }, () => ({ name: 'single', data: {} })));
    }
  }

  countCompleted(): Promise<number> {
    return this.queue().getCompletedCount();
  }

  async chain(): Promise<void> {
    const queueName = BULLMQ_QUEUES.chain;
    const { job } = await this.producer().add({
      name: 'three', queueName, children: [{ name: 'two', queueName, children: [{ name: 'one', queueName }] }],
    });
    await job.waitUntilFinished(this.queueEvents(queueName), 60_000);
  }

  async fanout(n: number, timeoutMs: number): Promise<void> {
    const queueName = BULLMQ_QUEUES.fanout;
    const children = Array.from({ length: n }, (_, i) => ({ name: 'item', queueName, data: { n: i } }));
    const { job } = await this.producer().add({ name: 'total', queueName, children });
    await job.waitUntilFinished(this.queueEvents(queueName), timeoutMs);
  }

  private queue(): BullQueue {
    if (!this.single) throw new Error('setup() first');
    return this.single;
  }

  private producer(): BullFlowProducer {
    if (!this.flows) throw new Error('setup() first');
    return this.flows;
  }

  private queueEvents(name: string): BullQueueEvents {
    const ev = this.events.get(name);
    if (!ev) throw new Error('setup() first');
    return ev;
  }
}
