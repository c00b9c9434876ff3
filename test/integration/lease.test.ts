import { acquireLease, keepLease, LeaseLostError, LeaseModel, releaseLease, renewLease } from '../../src/db/lease';
import { createLogger } from '../../src/logger';
import { LogCapture } from '../helpers/app';
import { useTestDb } from '../helpers/test-db';

useTestDb();

const logs = new LogCapture();
const log = createLogger('info', logs);

describe('leases: one token per acquisition', () => {
  it('When a lease is held, then the same instance cannot take it again (not re-entrant), in this tick or later, until it is released', async () => {
    const [a, b] = await Promise.all([acquireLease('one', 'me', 60_000), acquireLease('one', 'me', 60_000)]);
    expect([a, b].filter((l) => l !== null)).toHaveLength(1);
    const held = (a ?? b)!;
    expect(held.token).toMatch(/^[0-9a-f]{32}$/);
    expect(held.token).not.toContain('me');
    expect(await acquireLease('one', 'me', 60_000)).toBeNull();

    await releaseLease(held);
    const again = await acquireLease('one', 'me', 60_000);

    expect(again).not.toBeNull();
    expect(again!.token).not.toBe(held.token);
    expect(await LeaseModel.findById('one').lean()).toMatchObject({ owner: 'me', token: again!.token });
  });

  it('When an acquisition lost its lease, then its renewals and its release do not touch the next holder’s', async () => {
    const first = (await acquireLease('two', 'me', 60_000))!;
    // It ran out (this instance stalled) and another took it.
    await LeaseModel.updateOne({ _id: 'two' }, { $set: { until: new Date(Date.now() - 1) } });
    const second = (await acquireLease('two', 'other', 60_000))!;
    expect(second).not.toBeNull();

    expect(await renewLease(first, 60_000)).toBe(false);
    await releaseLease(first, { error: 'from the old one' });

    const doc = await LeaseModel.findById('two').lean();
    expect(doc).toMatchObject({ owner: 'other', token: second.token });
    expect(doc!.data).not.toHaveProperty('error');
    expect(await renewLease(second, 60_000)).toBe(true);
    // The loser's process forgot it: it may compete again once the lease is free.
    await releaseLease(second);
    expect(await acquireLease('two', 'me', 60_000)).not.toBeNull();
  });

  it('When a kept lease is taken over, then its signal aborts with LeaseLostError', async () => {
    const mine = (await acquireLease('three', 'me', 1000))!;
    const kept = keepLease(mine, 1000, log);
    try {
      await LeaseModel.updateOne({ _id: 'three' }, { $set: { until: new Date(Date.now() - 1) } });
      expect(await acquireLease('three', 'other', 60_000)).not.toBeNull();

      await new Promise<void>((resolve) => kept.signal.addEventListener('abort', () => resolve()));

      expect(kept.signal.reason).toBeInstanceOf(LeaseLostError);
      expect(String(kept.signal.reason.message)).toContain('three');
    } finally {
      await kept.stop();
    }
  });

  it('When a kept lease is renewed normally, then its signal never aborts', async () => {
    const mine = (await acquireLease('four', 'me', 1000))!;
    const kept = keepLease(mine, 1000, log);
    await new Promise((r) => setTimeout(r, 2500));
    await kept.stop();
    expect(kept.signal.aborted).toBe(false);
    expect(await acquireLease('four', 'other', 60_000)).toBeNull();
    await releaseLease(mine);
  });
});
