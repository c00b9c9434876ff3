import { ClaimModel, claimOne, takeTicket } from '../../src/db/claim';
import { acquireLease, LeaseModel, releaseLease } from '../../src/db/lease';
import { ScanJobModel, type ScanJobDoc } from '../../src/modules/scanner';
import { useTestDb } from '../helpers/test-db';

useTestDb();

const ROUNDS = 25;
const CONTENDERS = 6;

function jobDoc(digest: string) {
  const now = new Date();
  return {
    digest,
    repository: '127.0.0.1:5000',
    image: 'demo/app',
    state: 'queued' as const,
    attempts: 0,
    notBefore: now,
    queuedAt: now,
  };
}

const claimJob = (owner: string, now = new Date()) =>
  claimOne<ScanJobDoc>(ScanJobModel as never, {
    scope: 'scanjob',
    owner,
    staleMs: 60_000,
    filter: {
      $or: [
        { state: 'queued', notBefore: { $lte: now } },
        { state: 'running', leaseUntil: { $lt: now } },
      ],
    },
    sort: { notBefore: 1 },
    update: {
      $set: { state: 'running', leaseOwner: owner, leaseUntil: new Date(now.getTime() + 60_000) },
      $inc: { attempts: 1 },
    },
    now,
  });

describe('atomic claims on the test database', () => {
  it(`When ${CONTENDERS} instances race for one queued job, then exactly one wins, in each of ${ROUNDS} rounds`, async () => {
    for (let round = 0; round < ROUNDS; round++) {
      await ScanJobModel.create(jobDoc(`sha256:${String(round).padStart(64, '0')}`));

      const results = await Promise.all(Array.from({ length: CONTENDERS }, (_, i) => claimJob(`instance-${i}`)));

      const winners = results.filter((r) => r !== null);
      expect(winners).toHaveLength(1);
      const stored = await ScanJobModel.findOne({}).lean<ScanJobDoc>();
      expect(stored!.leaseOwner).toBe(winners[0]!.leaseOwner);
      expect(stored!.attempts).toBe(1);
      await ScanJobModel.deleteMany({});
    }
    // Every ticket is removed once its guarded update is written.
    expect(await ClaimModel.countDocuments({})).toBe(0);
  });

  it(`When ${CONTENDERS} instances race for one free lease, then exactly one holds it, in each of ${ROUNDS} rounds`, async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const name = `race-${round}`;

      const results = await Promise.all(
        Array.from({ length: CONTENDERS }, (_, i) => acquireLease(name, `instance-${i}`, 60_000)),
      );

      const winners = results.filter((r) => r !== null);
      expect(winners).toHaveLength(1);
      const stored = await LeaseModel.findById(name).lean<{ owner: string }>();
      expect(stored!.owner).toBe(winners[0]!.owner);
    }
  });

  it('When a job that was claimed and finished is queued again, then it can be claimed again', async () => {
    await ScanJobModel.create(jobDoc('sha256:' + 'a'.repeat(64)));
    const first = await claimJob('one');
    await ScanJobModel.updateOne({ _id: first!._id }, { $set: { state: 'queued', leaseOwner: null, attempts: 0 } });

    const second = await claimJob('two');

    expect(second?.leaseOwner).toBe('two');
    expect(second?.claimSeq).toBe(2);
  });

  it('When a running job’s lease has expired, then another instance takes it over', async () => {
    await ScanJobModel.create(jobDoc('sha256:' + 'b'.repeat(64)));
    const t0 = new Date();
    const first = await claimJob('dead', t0);
    expect(first?.leaseOwner).toBe('dead');

    const later = new Date(t0.getTime() + 120_000);
    const taken = await claimJob('alive', later);

    expect(taken?.leaseOwner).toBe('alive');
    expect(taken?.attempts).toBe(2);
  });

  it('When an instance died between taking a ticket and updating, then the stale ticket does not block the job', async () => {
    const job = await ScanJobModel.create(jobDoc('sha256:' + 'c'.repeat(64)));
    await ClaimModel.collection.insertOne({
      _id: `scanjob:${String(job._id)}:1` as never,
      owner: 'dead',
      at: new Date(Date.now() - 10 * 60_000),
    });

    const claimed = await claimJob('alive');

    expect(claimed?.leaseOwner).toBe('alive');
  });

  it('When a ticket is fresh, then a second contender does not get it', async () => {
    expect(await takeTicket('t:1', 'a', 60_000)).toBe(true);
    expect(await takeTicket('t:1', 'b', 60_000)).toBe(false);
  });

  it('When a lease is held and not expired, then another owner cannot take it; after release it can', async () => {
    const a = await acquireLease('held', 'a', 60_000);
    expect(a).not.toBeNull();
    expect(await acquireLease('held', 'b', 60_000)).toBeNull();

    await releaseLease(a!);

    expect((await acquireLease('held', 'b', 60_000))?.owner).toBe('b');
  });
});
