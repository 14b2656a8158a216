import { NotifyListener } from '../../lib/db/notify.listener';
import { POLLING_WARNING, PooledApp, usePooledDatabase } from './pooler-harness';

const clientOnly = { worker: { enabled: false, pollIntervalMs: 300 } };

async function probeAll(apps: PooledApp[]): Promise<boolean[]> {
  const listeners = apps.map((a) => a.app.get(NotifyListener));
  await Promise.all(listeners.map((l) => l.start()));
  const available = listeners.map((l) => l.available);
  await Promise.all(listeners.map((l) => l.stop()));
  return available;
}

describe('the LISTEN/NOTIFY probe behind PgBouncer: one server connection shared by the listener and the notifier', () => {
  const { createApp } = usePooledDatabase({ poolSize: 1 });

  it('concludes unavailable and says why', async () => {
    const app = await createApp(clientOnly);
    expect(await probeAll([app])).toEqual([false]);
    expect(app.warnings()).toEqual([expect.stringMatching(POLLING_WARNING)]);
    expect(app.warnings()[0]).toMatch(/; falling back to polling every 300 ms$/);
  });
});

describe('the LISTEN/NOTIFY probe behind PgBouncer, many processes probing at once', () => {
  const { createApp, db } = usePooledDatabase({ poolSize: 3 });

  it('concludes unavailable every time through the pooler, and available on a direct connection', async () => {
    // with one channel shared by every probe, a notification from another process's probe
    // reached a client whose LISTEN ran on a server connection an earlier probe had
    // LISTENed on: 7 of 100 such probes passed through PgBouncer
    const pooled = await Promise.all(Array.from({ length: 8 }, () => createApp(clientOnly)));
    const direct = await Promise.all(Array.from({ length: 2 }, () =>
      createApp({ ...clientOnly, pgflow: { dataSource: { type: 'postgres', url: db().url, poolSize: 2 } } })));
    for (let round = 1; round <= 4; round++) {
      const available = await probeAll([...pooled, ...direct]);
      expect({ round, pooled: available.slice(0, 8), direct: available.slice(8) })
        .toEqual({ round, pooled: Array(8).fill(false), direct: [true, true] });
    }
    for (const app of pooled) {
      expect(app.warnings()).toHaveLength(4);
      for (const w of app.warnings()) expect(w).toMatch(POLLING_WARNING);
    }
    for (const app of direct) expect(app.warnings()).toEqual([]);
  });
});
