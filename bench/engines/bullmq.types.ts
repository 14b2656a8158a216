/** The part of BullMQ 6's API the bench uses (typed here; see support/peer.loader.ts). */
export interface BullConnection {
  host: string;
  port: number;
  maxRetriesPerRequest?: null;
}

export interface BullJob {
  id?: string;
  name: string;
  data: unknown;
  getChildrenValues(): Promise<Record<string, unknown>>;
  waitUntilFinished(queueEvents: BullQueueEvents, ttl?: number): Promise<unknown>;
}

export interface BullQueue {
  addBulk(jobs: Array<{ name: string; data: unknown }>): Promise<BullJob[]>;
  obliterate(opts?: { force?: boolean }): Promise<void>;
  getCompletedCount(): Promise<number>;
  waitUntilReady(): Promise<unknown>;
  close(): Promise<void>;
}

export interface BullWorker {
  run(): Promise<void>;
  waitUntilReady(): Promise<unknown>;
  close(): Promise<void>;
  on(event: 'error', handler: (err: Error) => void): unknown;
}

export interface BullQueueEvents {
  waitUntilReady(): Promise<unknown>;
  close(): Promise<void>;
}

export interface BullFlowJob {
  name: string;
  queueName: string;
  data?: unknown;
  children?: BullFlowJob[];
}

export interface BullFlowProducer {
  add(flow: BullFlowJob): Promise<{ job: BullJob }>;
  close(): Promise<void>;
}

interface BullCommonOptions {
  connection: BullConnection;
  prefix?: string;
}

export interface BullMQModule {
  Queue: new (name: string, opts: BullCommonOptions) => BullQueue;
  Worker: new (name: string, processor: (job: BullJob) => Promise<unknown>,
    opts: BullCommonOptions & { concurrency?: number; autorun?: boolean }) => BullWorker;
  QueueEvents: new (name: string, opts: BullCommonOptions) => BullQueueEvents;
  FlowProducer: new (opts: BullCommonOptions) => BullFlowProducer;
}

export const BULLMQ_VERSION = '6.7.0 (ioredis 5.11.1, the version BullMQ 6.7.0 is developed against)';

/** Worker options of a configuration: none (its default concurrency 1) or a tuned concurrency. */
export interface BullMQSettings {
  concurrency?: number;
}

export const BULLMQ_DEFAULTS: BullMQSettings = {};

/**
 * The tuned setup: BullMQ's documented throughput lever is the worker's concurrency
 * factor (docs.bullmq.io/guide/workers/concurrency, whose example uses 50). Of 10, 50,
 * 100, 200 and 500 tried here, 100 and 200 drained fastest (within noise of each other).
 */
export const BULLMQ_TUNED: BullMQSettings = { concurrency: 100 };

/** Key prefix, so the bench touches no one else's keys. */
export const BULLMQ_PREFIX = 'pgflow-bench';

export const BULLMQ_QUEUES = { single: 'bench_single', chain: 'bench_chain', fanout: 'bench_fanout' } as const;

export function redisConnection(url: string): BullConnection {
  const u = new URL(url);
  // workers block on Redis; BullMQ asks for maxRetriesPerRequest null there
  return { host: u.hostname, port: Number(u.port || 6379), maxRetriesPerRequest: null };
}
