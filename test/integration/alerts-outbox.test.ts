import request from 'supertest';
import { AlertEntryModel, alertsFrom, DeliveryModel, entryId, WebhookModel } from '../../src/modules/alerts';
import { FindingModel } from '../../src/modules/scanner/finding.model';
import { upsertResolved } from '../../src/modules/scanner/discovery';
import { ImageModel } from '../../src/modules/images';
import { buildFinding, buildScanReport, digestOf, seedScanned } from '../factories/scan.factory';
import { buildTestApp } from '../helpers/app';
import { startFakeHttp, type FakeHttp } from '../helpers/fake-http';
import { useTestDb } from '../helpers/test-db';

useTestDb();

/**
 * Alerts exactly once per (digest, vulnerability, receiver), derived from stored state: what a
 * receiver hears does not depend on the scan worker's hint arriving, nor on how often the pass runs.
 */
const A = '127.0.0.1:9';
const B = '127.0.0.2:9';
const D = digestOf(21);
const HOUR = 3_600_000;

const servers: FakeHttp[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

/** A receiver that records every request and answers 200. */
async function recordingReceiver(): Promise<FakeHttp> {
  const rx = await startFakeHttp();
  rx.handle(() => ({ status: 200, body: {} }));
  servers.push(rx);
  return rx;
}

async function setup(env: Record<string, string> = {}) {
  const t = buildTestApp({ REGISTRY_TEST_TIMEOUT_MS: '500', ...env });
  for (const host of ['127.0.0.1', '127.0.0.2'])
    await request(t.app).post('/api/repository').send({ repository: host, port: 9 }).expect(200);
  const alerts = alertsFrom(t.deps);
  const ctx = { log: t.logger };
  /** Delivers everything due, as the worker loops would. */
  const deliverAll = async () => {
    while (await alerts.worker.runOnce());
  };
  return { ...t, alerts, ctx, deliverAll };
}

const cvesOf = (rx: FakeHttp) =>
  rx.requests.map((r) =>
    (JSON.parse(r.body) as { vulnerabilities: Array<{ cveId: string }> }).vulnerabilities.map((v) => v.cveId),
  );

const twoFindings = () => [
  buildFinding({ cveId: 'CVE-2024-1001', level: 'Critical', type: 'openssl' }),
  buildFinding({ cveId: 'CVE-2024-1002', level: 'High', type: 'zlib' }),
];

describe('Alert outbox: derived from stored state', () => {
  it('When findings are stored and the hint never comes (a crash), then the periodic pass queues the alert, and it is delivered once', async () => {
    const { alerts, deliverAll } = await setup();
    const rx = await recordingReceiver();
    await WebhookModel.create({ url: `${rx.url}/hook`, minLevel: 'high' });

    // The scan stored its findings and died before calling alerts.newFindings.
    await seedScanned(A, [{ image: 'shop/api', tag: '1.0' }], buildScanReport(D, twoFindings()));
    expect(await DeliveryModel.countDocuments()).toBe(0);

    const first = await alerts.deriver.runOnce();
    expect(first).toMatchObject({ entries: 2, deliveries: 1 });
    await deliverAll();

    expect(cvesOf(rx)).toEqual([['CVE-2024-1001', 'CVE-2024-1002']]);
    expect(await FindingModel.countDocuments({ alertPending: true })).toBe(0);
    expect(await ImageModel.countDocuments({ alertPending: true })).toBe(0);
  });

  it('When the pass runs twice, and the hint comes after it, then nothing is queued or sent twice, even once the deliveries were purged', async () => {
    const { alerts, ctx, deliverAll } = await setup({ ALERT_RETENTION_DAYS: '1' });
    const rx = await recordingReceiver();
    await WebhookModel.create({ url: `${rx.url}/hook`, minLevel: 'high' });
    const stored = await seedScanned(A, [{ image: 'shop/api', tag: '1.0' }], buildScanReport(D, twoFindings()));

    expect(await alerts.deriver.runOnce()).toMatchObject({ deliveries: 1 });
    expect(await alerts.deriver.runOnce()).toMatchObject({ entries: 0, deliveries: 0 });
    expect(await alerts.service.newFindings(D, stored.newFindings, ctx)).toBe(0);
    await deliverAll();
    expect(await alerts.worker.purgeFinished(new Date(Date.now() + 2 * 24 * HOUR))).toBe(1);
    // The same findings flagged again (as if the clear had been lost): the entries still refuse them.
    await FindingModel.updateMany({ digest: D }, { $set: { alertPending: true } });
    expect(await alerts.deriver.runOnce()).toMatchObject({ entries: 0, deliveries: 0 });
    await deliverAll();

    expect(rx.requests).toHaveLength(1);
    expect(await DeliveryModel.countDocuments()).toBe(0);
  });

  it('When a rescan adds one CVE, then the receiver hears about that one only', async () => {
    const { alerts, ctx, deliverAll } = await setup();
    const rx = await recordingReceiver();
    await WebhookModel.create({ url: `${rx.url}/hook`, minLevel: 'high' });
    const tags = [{ image: 'shop/api', tag: '1.0' }];
    const first = await seedScanned(A, tags, buildScanReport(D, twoFindings()));
    expect(await alerts.service.newFindings(D, first.newFindings, ctx)).toBe(1);
    const more = [...twoFindings(), buildFinding({ cveId: 'CVE-2024-1003', level: 'Critical', type: 'curl' })];
    const second = await seedScanned(A, tags, buildScanReport(D, more));

    expect(await alerts.service.newFindings(D, second.newFindings, ctx)).toBe(1);
    await deliverAll();

    expect(cvesOf(rx)).toEqual([['CVE-2024-1001', 'CVE-2024-1002'], ['CVE-2024-1003']]);
  });

  it('When a digest already known from registry A appears in registry B, then B’s receiver hears about all its CVEs and A’s is not told again', async () => {
    const { alerts, ctx, deliverAll } = await setup();
    const rxA = await recordingReceiver();
    const rxB = await recordingReceiver();
    await WebhookModel.create({ url: `${rxA.url}/a`, minLevel: 'high', repository: A });
    await WebhookModel.create({ url: `${rxB.url}/b`, minLevel: 'high', repository: B });
    const stored = await seedScanned(A, [{ image: 'shop/api', tag: '1.0' }], buildScanReport(D, twoFindings()));
    await alerts.service.newFindings(D, stored.newFindings, ctx);
    await deliverAll();
    expect(cvesOf(rxA)).toEqual([['CVE-2024-1001', 'CVE-2024-1002']]);
    expect(rxB.requests).toHaveLength(0);

    // B's discovery finds a tag with the same digest: no scan (the digest is done), no new finding.
    await upsertResolved(
      B,
      [{ image: 'mirror/api', tag: 'stable', platform: 'linux/amd64', digest: D, tagDigest: D }],
      new Date(),
    );
    expect(await alerts.deriver.runOnce()).toMatchObject({ deliveries: 1 });
    await deliverAll();

    expect(cvesOf(rxB)).toEqual([['CVE-2024-1001', 'CVE-2024-1002']]);
    const body = JSON.parse(rxB.requests[0]!.body);
    expect(body.images).toEqual([{ registry: B, image: 'mirror/api', tag: 'stable', digest: D }]);
    expect(rxA.requests).toHaveLength(1);
  });

  it('When a crash came after the entries were inserted but before their delivery, then the next pass queues exactly that event', async () => {
    const { alerts, deliverAll } = await setup();
    const rx = await recordingReceiver();
    const hook = await WebhookModel.create({ url: `${rx.url}/hook`, minLevel: 'high' });
    await seedScanned(A, [{ image: 'shop/api', tag: '1.0' }], buildScanReport(D, twoFindings()));
    // What the derivation had written when it died: the entries (unqueued), no delivery, flags still set.
    const receiver = String(hook._id);
    const at = new Date(Date.now() - 5 * 60_000);
    await AlertEntryModel.collection.insertMany(
      ['CVE-2024-1001', 'CVE-2024-1002'].map((cveId) => ({
        _id: entryId(receiver, D, cveId) as never,
        receiver,
        digest: D,
        cveId,
        eventId: 'event-before-crash',
        queued: false,
        at,
      })),
    );

    expect(await alerts.deriver.runOnce()).toMatchObject({ recovered: 1, entries: 0, deliveries: 0 });
    expect(await alerts.deriver.runOnce()).toMatchObject({ recovered: 0, entries: 0, deliveries: 0 });
    await deliverAll();

    expect(rx.requests).toHaveLength(1);
    expect(rx.requests[0]!.headers['x-vulnscan-event']).toBe('event-before-crash');
    expect(cvesOf(rx)).toEqual([['CVE-2024-1001', 'CVE-2024-1002']]);
    expect(await AlertEntryModel.countDocuments({ queued: false })).toBe(0);
  });

  it('When an instance died mid-delivery, then the re-send carries the same event id as its idempotency key', async () => {
    const { alerts, ctx } = await setup({ ALERT_TIMEOUT_MS: '1000' });
    const rx = await recordingReceiver();
    await WebhookModel.create({ url: `${rx.url}/hook`, minLevel: 'high' });
    const stored = await seedScanned(A, [{ image: 'shop/api', tag: '1.0' }], buildScanReport(D, twoFindings()));
    await alerts.service.newFindings(D, stored.newFindings, ctx);
    // Sent, then the instance died before recording it: `sending` under a lease that runs out.
    expect(await alerts.worker.runOnce()).toBe(true);
    await DeliveryModel.updateMany(
      {},
      { $set: { state: 'sending', leaseOwner: 'dead', leaseUntil: new Date(Date.now() - 1) } },
    );

    expect(await alerts.worker.runOnce()).toBe(true);

    expect(rx.requests).toHaveLength(2);
    const [a, b] = rx.requests;
    expect(b!.body).toBe(a!.body);
    expect(b!.headers['idempotency-key']).toBe(a!.headers['idempotency-key']);
    expect(b!.headers['x-vulnscan-event']).toBe(JSON.parse(a!.body).id);
  });

  it('When a receiver is added after findings were derived, then it is not flooded with them; findings stored later reach it', async () => {
    const { alerts, deliverAll } = await setup();
    const tags = [{ image: 'shop/api', tag: '1.0' }];
    await seedScanned(A, tags, buildScanReport(D, twoFindings()));
    expect(await alerts.deriver.runOnce()).toMatchObject({ digests: 1, entries: 0 });
    const rx = await recordingReceiver();
    await WebhookModel.create({ url: `${rx.url}/hook`, minLevel: 'high' });

    expect(await alerts.deriver.runOnce()).toMatchObject({ digests: 0, entries: 0 });
    await seedScanned(
      A,
      tags,
      buildScanReport(D, [...twoFindings(), buildFinding({ cveId: 'CVE-2024-1009', level: 'High' })]),
    );
    await alerts.deriver.runOnce();
    await deliverAll();

    expect(cvesOf(rx)).toEqual([['CVE-2024-1009']]);
  });

  it('When another instance holds the derivation lease, then this one derives nothing and the flags stay', async () => {
    const { alerts } = await setup({ ALERT_WEBHOOK_URLS: 'http://127.0.0.1:9/x' });
    const { acquireLease, releaseLease } = await import('../../src/db/lease');
    await seedScanned(A, [{ image: 'shop/api', tag: '1.0' }], buildScanReport(D, twoFindings()));
    const other = await acquireLease('alert-derive', 'other-instance', 60_000);

    expect(await alerts.deriver.runOnce()).toBeNull();
    expect(await FindingModel.countDocuments({ alertPending: true })).toBe(2);

    await releaseLease(other!);
    expect(await alerts.deriver.runOnce()).toMatchObject({ deliveries: 1 });
  });
});
