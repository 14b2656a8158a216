// D1's browsers: a child process holding DASHBOARD_STREAMS event streams of
// DASHBOARD_EVENTS_URL open, as that many browser tabs would, and counting the run events
// (one per `data:` line) each receives. Browsers are not in the app's process: reading
// the streams here keeps their cost out of the process whose W1 drain is measured.
// IPC: sends { type: 'ready' } once every stream is open; answers { type: 'reset' } and
// { type: 'count' } with { type: 'count', events: number[] } (per stream, since the last reset).
import { get, IncomingMessage } from 'http';

interface Stream {
  events: number;
  close(): void;
}

function openStream(url: string): Promise<Stream> {
  return new Promise((resolve, reject) => {
    const req = get(url, { headers: { accept: 'text/event-stream' } }, (res: IncomingMessage) => {
      if (res.statusCode !== 200) return reject(new Error(`event stream answered ${res.statusCode}`));
      const stream: Stream = { events: 0, close: () => req.destroy() };
      let tail = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        // a `data:` line may be split across chunks: count it once its newline arrived
        const text = tail + chunk;
        const last = text.lastIndexOf('\n');
        tail = text.slice(last + 1);
        for (let i = text.indexOf('data:'); i >= 0 && i < last; i = text.indexOf('data:', i + 5)) stream.events++;
      });
      res.on('error', () => undefined);
      resolve(stream);
    });
    req.on('error', reject);
  });
}

async function main(): Promise<void> {
  const url = process.env.DASHBOARD_EVENTS_URL as string;
  const n = Number(process.env.DASHBOARD_STREAMS ?? 20);
  const streams: Stream[] = [];
  for (let i = 0; i < n; i++) streams.push(await openStream(url));
  process.on('message', (m: { type: string }) => {
    if (m.type === 'reset') for (const s of streams) s.events = 0;
    if (m.type === 'count') process.send?.({ type: 'count', events: streams.map((s) => s.events) });
    if (m.type === 'stop') {
      for (const s of streams) s.close();
      process.disconnect();
    }
  });
  process.send?.({ type: 'ready' });
}

main().catch((err: Error) => {
  console.error(err);
  process.exit(1);
});
