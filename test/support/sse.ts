// Server-sent event streams as the dashboard tests read them: in the background, every
// `data:` message parsed, waited on with a deadline.

/** A run event as a stream carries it (`run`, `step`: the RunInfo / StepInfo). */
export interface StreamEvent {
  type?: string;
  runId?: string;
  status?: string;
  stepSlug?: string;
  run?: Record<string, unknown>;
  step?: Record<string, unknown>;
}

export interface EventReader {
  /** Resolves once the server sent the stream's first bytes (the dashboard subscribed it by then). */
  opened: Promise<void>;
  /** Every event parsed so far, in order. */
  events(): StreamEvent[];
  /** Resolves with the first event, received or to come, that `match` accepts; rejects after `timeoutMs` or when the stream ends. */
  next(match: (e: StreamEvent) => boolean, timeoutMs?: number): Promise<StreamEvent>;
  close(): void;
}

/**
 * Opens `url` as an event stream (refusing an answer other than 200 text/event-stream)
 * and parses each message; a message with more than one `data:` line is an error: each
 * event is a message of its own.
 */
export async function openEvents(url: string, headers: Record<string, string> = {}): Promise<EventReader> {
  const abort = new AbortController();
  const res = await fetch(url, { headers, signal: abort.signal });
  if (res.status !== 200) throw new Error(`${url} answered ${res.status}`);
  const type = res.headers.get('content-type') ?? '';
  if (!type.startsWith('text/event-stream')) throw new Error(`${url} answered ${type}, not text/event-stream`);
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  const events: StreamEvent[] = [];
  const waiters = new Set<() => void>();
  let ended: Error | undefined;
  let first!: () => void;
  const opened = new Promise<void>((resolve) => (first = resolve));
  const wake = () => {
    for (const w of [...waiters]) w();
  };
  void (async () => {
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true as const }));
      if (done) break;
      first();
      buffer += decoder.decode(value, { stream: true });
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const message = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const data = message.split('\n').filter((l) => l.startsWith('data:'));
        if (data.length > 1) {
          ended = new Error(`one message carries ${data.length} data lines: ${message}`);
          abort.abort();
          break;
        }
        if (data.length) events.push(JSON.parse(data[0].slice(5)) as StreamEvent);
      }
      wake();
    }
    ended ??= new Error('stream ended');
    wake();
  })();
  const next = (match: (e: StreamEvent) => boolean, timeoutMs = 30_000) => new Promise<StreamEvent>((resolve, reject) => {
    let seen = 0;
    const timer = setTimeout(() => done(new Error(`no matching event within ${timeoutMs} ms (${events.length} events seen)`)), timeoutMs);
    const check = () => {
      for (; seen < events.length; seen++) if (match(events[seen])) return done(undefined, events[seen]);
      if (ended) done(ended);
    };
    const done = (err?: Error, e?: StreamEvent) => {
      clearTimeout(timer);
      waiters.delete(check);
      if (err) reject(err);
      else resolve(e as StreamEvent);
    };
    waiters.add(check);
    check();
  });
  return { opened, events: () => [...events], next, close: () => abort.abort() };
}

/**
 * Opens `url`, calls `act` once the stream is subscribed (so its changes cannot be missed),
 * and resolves with the first event `match` accepts.
 */
export async function waitForEvent(url: string, match: (e: StreamEvent) => boolean, act: () => Promise<unknown>,
  opts: { headers?: Record<string, string>; timeoutMs?: number } = {}): Promise<StreamEvent> {
  const stream = await openEvents(url, opts.headers);
  try {
    await stream.opened;
    await act();
    return await stream.next(match, opts.timeoutMs);
  } finally {
    stream.close();
  }
}
