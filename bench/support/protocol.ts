/** Orchestrator → worker process. */
export type ToWorker =
  | { type: 'go' } // start claiming
  | { type: 'memory' } // collect garbage, then report memory
  | { type: 'stop' }; // shut down gracefully and exit

/** Worker process → orchestrator. */
export type FromWorker =
  | { type: 'ready' } // booted and connected, not claiming yet
  | { type: 'started' }
  | { type: 'progress'; handled: number } // units handled so far (cumulative)
  | { type: 'memory'; rss: number; heapUsed: number }
  | { type: 'failed'; message: string };
