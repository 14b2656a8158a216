import { cronRunKey, tickTime } from '../../lib/schedulers/cron-tick';

describe('cron tick identity', () => {
  const due = new Date('2025-03-04T05:06:07.000Z');

  it('names a tick by the time it was due, however late the callback runs', () => {
    expect(tickTime(due, new Date('2025-03-04T05:06:07.004Z'))).toBe(due);
    expect(tickTime(due, new Date('2025-03-04T05:06:09.900Z'))).toBe(due);
  });

  it('falls back to the current second without a due time, or when the due time is still ahead', () => {
    expect(tickTime(undefined, new Date('2025-03-04T05:06:07.999Z'))).toEqual(due);
    expect(tickTime(new Date('2025-03-04T05:06:08.000Z'), new Date('2025-03-04T05:06:07.250Z'))).toEqual(due);
  });

  it('derives the idempotency key from the tick time', () => {
    expect(cronRunKey(due)).toBe('cron:2025-03-04T05:06:07.000Z');
  });
});
