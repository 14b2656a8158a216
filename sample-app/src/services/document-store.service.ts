import { Injectable } from '@nestjs/common';
import { Document } from './document.types';

// A tiny fixed corpus keeps the sample self-contained and its results reproducible.
const CORPUS: Array<Omit<Document, 'id'>> = [
  { title: 'Counters over locks', body: 'Each step keeps a counter of remaining dependencies; a step starts when its counter reaches zero, so no coordinator holds a lock while the workflow waits.' },
  { title: 'Skip locked queues', body: 'Workers claim ready tasks with for update skip locked, so many workers share one queue table without blocking each other and without a broker.' },
  { title: 'Leases and crashes', body: 'A claimed task carries a lease. When a worker crashes the lease expires and another worker claims the task again, so no task is stranded.' },
  { title: 'Retries with backoff', body: 'A failed attempt is retried after an exponential delay. The error message stays on the task, and the run fails only when every attempt is exhausted.' },
  { title: 'Map steps fan out', body: 'A map step runs one task per element of an array and collects the outputs in order, so a batch of documents is analysed in parallel by every worker.' },
  { title: 'Outputs stored once', body: 'A step output is stored once in its step state, and dependent steps read it from there instead of copying it into every task of the workflow.' },
  { title: 'Notify wakes pollers', body: 'When tasks become ready Postgres sends a notification, and idle workers wake at once instead of waiting for the next poll of the queue.' },
  { title: 'Plain Postgres anywhere', body: 'The workflow state lives in ordinary tables and functions, so any Postgres server runs it: a laptop, a managed cloud database, or an embedded one.' },
];

/** Hands out batches of documents, as a CMS or an object store would. */
@Injectable()
export class DocumentStore {
  /** The `size` documents of batch `batchId`; the same batch id always yields the same documents. */
  fetchBatch(batchId: string, size: number): Document[] {
    const offset = [...batchId].reduce((sum, ch) => sum + ch.charCodeAt(0), 0);
    return Array.from({ length: size }, (_, i) => ({
      id: `${batchId}-${i + 1}`,
      ...CORPUS[(offset + i) % CORPUS.length],
    }));
  }
}
