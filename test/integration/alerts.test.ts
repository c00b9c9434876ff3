import { createHmac, timingSafeEqual } from 'node:crypto';
import http, { type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import { alertsFrom, DeliveryModel, WebhookModel } from '../../src/modules/alerts';
import { buildFinding, buildScanReport, digestOf, seedScanned } from '../factories/scan.factory';
import { buildTestApp } from '../helpers/app';
import { useTestDb } from '../helpers/test-db';

useTestDb();

const REG = '127.0.0.1:9';
const SECRET = 'receiver-secret-0123456789abcdef';
const HOUR = 3_600_000;

interface Received {
  headers: IncomingHttpHeaders;
  raw: Buffer;
}

/** A real HTTP receiver on 127.0.0.1: answers with the next status of `statuses` (then 200), records raw bodies. */
async function startReceiver(statuses: number[] = []) {
  const got: Received[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      got.push({ headers: req.headers, raw: Buffer.concat(chunks) });
      res.statusCode = statuses.shift() ?? 200;
      res.end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/vulnscan`;
  return { url, got, close: () => new Promise<void>((r) => server.close(() => r())) };
}

/** What a receiver does: HMAC-SHA256 over the raw body bytes, compared in constant time. */
function verify(secret: string, raw: Buffer, header: string | string[] | undefined): boolean {
  const expected = Buffer.from(`sha256=${createHmac('sha256', secret).update(raw).digest('hex')}`);
  const given = Buffer.from(String(header ?? ''));
  return given.length === expected.length && timingSafeEqual(given, expected);
}

const receivers: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  await Promise.all(receivers.splice(0).map((r) => r.close()));
});

async function setup(env: Record<string, string> = {}) {
  const t = buildTestApp({ REGISTRY_TEST_TIMEOUT_MS: '1000', ...env });
  await request(t.app).post('/api/repository').send({ repository: '127.0.0.1', port: 9 }).expect(200);
  return { ...t, alerts: alertsFrom(t.deps), ctx: { log: t.logger } };
}

/** A scan of a digest served by two tags: what storeReport reports as new is what the worker hands to alerts. */
async function scanTwoTags(findings = [buildFinding()]) {
  return seedScanned(
    REG,
    [
      { image: 'shop/api', tag: '1.2' },
      { image: 'shop/api', tag: 'latest' },
    ],
    buildScanReport(digestOf(7), findings),
  );
}

describe('Alert delivery', () => {
  it('When a scan stores new findings, then a local receiver gets a payload signed with HMAC-SHA256 over the exact body', async () => {
    const { app, alerts, ctx } = await setup();
    const rx = await startReceiver();
    receivers.push(rx);
    await request(app).post('/api/alerts/webhooks').send({ url: rx.url, minLevel: 'high', secret: SECRET }).expect(201);
    const stored = await scanTwoTags([
      buildFinding({ cveId: 'CVE-2024-1111', level: 'Critical', type: 'openssl', fixedBy: '3.0.13-1' }),
      buildFinding({ cveId: 'CVE-2024-2222', level: 'Low', type: 'tar' }),
    ]);

    expect(await alerts.service.newFindings(digestOf(7), stored.newFindings, ctx)).toBe(1);
    expect(rx.got).toHaveLength(0);
    expect(await alerts.worker.runOnce()).toBe(true);

    expect(rx.got).toHaveLength(1);
    const { headers, raw } = rx.got[0]!;
    expect(verify(SECRET, raw, headers['x-vulnscan-signature'])).toBe(true);
    expect(verify('another-secret-0123456789', raw, headers['x-vulnscan-signature'])).toBe(false);
    expect(headers['x-vulnscan-timestamp']).toMatch(/^\d{10}$/);
    const body = JSON.parse(raw.toString('utf8'));
    expect(headers['x-vulnscan-event']).toBe(body.id);
    expect(body).toMatchObject({
      type: 'vulnerabilities.new',
      digest: digestOf(7),
      minLevel: 'high',
      vulnerabilitiesTotal: 1,
      vulnerabilities: [
        {
          cveId: 'CVE-2024-1111',
          level: 'Critical',
          package: 'openssl',
          version: '3.0.11-1',
          fixedBy: '3.0.13-1',
          link: expect.stringContaining('https://'),
        },
      ],
    });
    expect(body.images).toEqual(
      expect.arrayContaining([
        { registry: REG, image: 'shop/api', tag: '1.2', digest: digestOf(7) },
        { registry: REG, image: 'shop/api', tag: 'latest', digest: digestOf(7) },
      ]),
    );
    const d = await DeliveryModel.findOne().lean();
    expect(d).toMatchObject({ state: 'delivered', attempts: 1, lastStatus: 200, leaseOwner: null });
  });

  it('When the receiver fails twice, then the third attempt (after the backoff) delivers the same signed body', async () => {
    const { alerts, ctx } = await setup({ ALERT_RETRY_BASE_MS: '60000' });
    const rx = await startReceiver([503, 500]);
    receivers.push(rx);
    await WebhookModel.create({ url: rx.url, minLevel: 'low' });
    const stored = await scanTwoTags();
    await alerts.service.newFindings(digestOf(7), stored.newFindings, ctx);

    const t0 = Date.now();
    expect(await alerts.worker.runOnce(new Date(t0))).toBe(true);
    let d = await DeliveryModel.findOne().lean();
    expect(d).toMatchObject({ state: 'pending', attempts: 1, lastStatus: 503 });
    // Backoff: not due before the first delay (60 s), due after it; the second delay doubles.
    expect(await alerts.worker.runOnce(new Date(t0 + 59_000))).toBe(false);
    expect(await alerts.worker.runOnce(new Date(t0 + 61_000))).toBe(true);
    d = await DeliveryModel.findOne().lean();
    expect(d).toMatchObject({ state: 'pending', attempts: 2, lastStatus: 500 });
    expect(d!.notBefore.getTime()).toBe(t0 + 61_000 + 120_000);
    expect(await alerts.worker.runOnce(new Date(t0 + 61_000 + 121_000))).toBe(true);

    d = await DeliveryModel.findOne().lean();
    expect(d).toMatchObject({ state: 'delivered', attempts: 3, lastStatus: 200, lastError: null });
    expect(rx.got).toHaveLength(3);
    expect(new Set(rx.got.map((g) => g.raw.toString()))).toHaveProperty('size', 1);
    expect(new Set(rx.got.map((g) => g.headers['x-vulnscan-event']))).toHaveProperty('size', 1);
    expect(await alerts.worker.runOnce(new Date(t0 + 10 * HOUR))).toBe(false);
  });

  it('When receivers have different minimum levels, then each hears only about CVEs at or above its own', async () => {
    const { alerts, ctx } = await setup();
    const critical = await startReceiver();
    const medium = await startReceiver();
    receivers.push(critical, medium);
    await WebhookModel.create({ url: critical.url, minLevel: 'critical' });
    await WebhookModel.create({ url: medium.url, minLevel: 'medium' });
    const stored = await scanTwoTags([
      buildFinding({ cveId: 'CVE-2024-0001', level: 'Critical' }),
      buildFinding({ cveId: 'CVE-2024-0002', level: 'Medium', type: 'zlib' }),
      buildFinding({ cveId: 'CVE-2024-0003', level: 'Low', type: 'tar' }),
    ]);

    expect(await alerts.service.newFindings(digestOf(7), stored.newFindings, ctx)).toBe(2);
    while (await alerts.worker.runOnce());

    const cves = (rx: { got: Received[] }) =>
      JSON.parse(rx.got[0]!.raw.toString()).vulnerabilities.map((v: { cveId: string }) => v.cveId);
    expect(cves(critical)).toEqual(['CVE-2024-0001']);
    expect(cves(medium)).toEqual(['CVE-2024-0001', 'CVE-2024-0002']);
  });

  it('When findings were seen before, or only below every level, then nothing is queued', async () => {
    const { alerts, ctx } = await setup({ ALERT_WEBHOOK_URLS: 'http://127.0.0.1:9/hook', ALERT_MIN_LEVEL: 'High' });
    const first = await scanTwoTags([buildFinding({ cveId: 'CVE-2024-0001', level: 'Low' })]);
    expect(await alerts.service.newFindings(digestOf(7), first.newFindings, ctx)).toBe(0);
    const again = await scanTwoTags([
      buildFinding({ cveId: 'CVE-2024-0001', level: 'Low' }),
      buildFinding({ cveId: 'CVE-2024-0009', level: 'High', type: 'curl' }),
    ]);
    expect(again.newFindings.map((f) => f.cveId)).toEqual(['CVE-2024-0009']);
    const rescan = await scanTwoTags([
      buildFinding({ cveId: 'CVE-2024-0001', level: 'Low' }),
      buildFinding({ cveId: 'CVE-2024-0009', level: 'High', type: 'curl' }),
    ]);
    expect(rescan.newFindings).toEqual([]);
    expect(await alerts.service.newFindings(digestOf(7), rescan.newFindings, ctx)).toBe(0);
    expect(await DeliveryModel.countDocuments()).toBe(0);
  });

  it('When a CVE is suppressed, then it is not alerted (and a scan with nothing else queues nothing)', async () => {
    const { app, alerts, ctx } = await setup({ ALERT_WEBHOOK_URLS: 'http://127.0.0.1:9/hook', ALERT_MIN_LEVEL: 'low' });
    await request(app)
      .post('/api/suppressions')
      .send({ cveId: 'CVE-2024-0001', scope: 'image', repository: REG, image: 'shop/api', reason: 'r', author: 'a' })
      .expect(201);
    const stored = await scanTwoTags([
      buildFinding({ cveId: 'CVE-2024-0001', level: 'Critical' }),
      buildFinding({ cveId: 'CVE-2024-0002', level: 'High', type: 'zlib' }),
    ]);
    expect(await alerts.service.newFindings(digestOf(7), stored.newFindings, ctx)).toBe(1);
    const d = await DeliveryModel.findOne().lean();
    expect(JSON.parse(d!.body).vulnerabilities.map((v: { cveId: string }) => v.cveId)).toEqual(['CVE-2024-0002']);

    await DeliveryModel.deleteMany({});
    const onlySuppressed = stored.newFindings.filter((f) => f.cveId === 'CVE-2024-0001');
    expect(await alerts.service.newFindings(digestOf(7), onlySuppressed, ctx)).toBe(0);
    expect(await DeliveryModel.countDocuments()).toBe(0);
  });

  it('When the receiver is dead or hangs, then queuing returns without contacting it and the worker records the failure', async () => {
    // A receiver that accepts and never answers: only the worker's timeout ends its request.
    const sockets = new Set<import('node:net').Socket>();
    const hanging = http.createServer(() => undefined);
    hanging.on('connection', (s) => sockets.add(s));
    await new Promise<void>((r) => hanging.listen(0, '127.0.0.1', r));
    receivers.push({
      close: () =>
        new Promise<void>((r) => {
          for (const s of sockets) s.destroy();
          hanging.close(() => r());
        }),
    });
    let hits = 0;
    hanging.on('request', () => hits++);
    const hangUrl = `http://127.0.0.1:${(hanging.address() as AddressInfo).port}/`;
    const { alerts, ctx, logs } = await setup({
      ALERT_WEBHOOK_URLS: `http://127.0.0.1:9/dead,${hangUrl}`,
      ALERT_MIN_LEVEL: 'low',
      ALERT_TIMEOUT_MS: '300',
      ALERT_MAX_ATTEMPTS: '2',
    });
    const stored = await scanTwoTags();

    await expect(alerts.service.newFindings(digestOf(7), stored.newFindings, ctx)).resolves.toBe(2);
    expect(hits).toBe(0);

    const far = Date.now() + HOUR;
    while (await alerts.worker.runOnce(new Date(far)));
    while (await alerts.worker.runOnce(new Date(far + HOUR)));
    const states = await DeliveryModel.find({}, { url: 1, state: 1, attempts: 1, lastError: 1 }).lean();
    expect(states.map((s) => [s.url, s.state, s.attempts, s.lastError]).sort()).toEqual(
      [
        ['http://127.0.0.1:9/dead', 'failed', 2, 'ECONNREFUSED'],
        [hangUrl, 'failed', 2, 'timed out'],
      ].sort(),
    );
    expect(hits).toBe(2);
    expect(logs.text).toContain('alert delivery failed for good');
  });
});

describe('Alert outbox retention', () => {
  it('When finished deliveries are older than ALERT_RETENTION_DAYS, then they are deleted and pending ones are kept', async () => {
    const { alerts } = await setup({ ALERT_RETENTION_DAYS: '7' });
    const base = { receiver: 'config:0', url: 'http://127.0.0.1:9/x', body: '{}', notBefore: new Date() };
    const old = new Date(Date.now() - 8 * 24 * HOUR);
    await DeliveryModel.collection.insertMany([
      { ...base, eventId: 'old-delivered', state: 'delivered', attempts: 1, updatedAt: old },
      { ...base, eventId: 'old-failed', state: 'failed', attempts: 8, updatedAt: old },
      { ...base, eventId: 'old-pending', state: 'pending', attempts: 3, updatedAt: old },
      { ...base, eventId: 'new-delivered', state: 'delivered', attempts: 1, updatedAt: new Date() },
    ]);

    expect(await alerts.worker.purgeFinished()).toBe(2);

    const left = await DeliveryModel.find({}, { eventId: 1 }).lean();
    expect(left.map((d) => d.eventId).sort()).toEqual(['new-delivered', 'old-pending']);
  });
});

describe('/api/alerts/webhooks', () => {
  it('When a webhook has a secret, then replies mask it, it is stored encrypted and never logged, even when deliveries fail', async () => {
    const { app, alerts, ctx, logs } = await setup({ ALERT_SECRET: 'config-secret-abcdef0123456789' });
    const rx = await startReceiver([500]);
    receivers.push(rx);
    const created = await request(app)
      .post('/api/alerts/webhooks')
      .send({ url: rx.url, minLevel: 'LOW', secret: SECRET, repository: REG });
    expect(created.status).toBe(201);
    expect(created.body.data).toMatchObject({
      url: rx.url,
      minLevel: 'low',
      secret: '******',
      enabled: true,
      repository: REG,
    });
    const id = created.body.data._id as string;
    const stored = await WebhookModel.findById(id).lean();
    expect(stored!.secretEnc).not.toContain(SECRET);
    expect(stored!.secretEnc).toMatch(/^v1:/);

    const kept = await request(app).put(`/api/alerts/webhooks/${id}`).send({ secret: '******', minLevel: 'high' });
    expect(kept.body.data).toMatchObject({ secret: '******', minLevel: 'high' });
    expect((await WebhookModel.findById(id).lean())!.secretEnc).toBe(stored!.secretEnc);
    const list = await request(app).get('/api/alerts/webhooks');
    const one = await request(app).get(`/api/alerts/webhooks/${id}`);
    const scanned = await scanTwoTags();
    await alerts.service.newFindings(digestOf(7), scanned.newFindings, ctx);
    await alerts.worker.runOnce();
    await alerts.worker.runOnce(new Date(Date.now() + HOUR));
    expect(rx.got).toHaveLength(2);
    expect(verify(SECRET, rx.got[1]!.raw, rx.got[1]!.headers['x-vulnscan-signature'])).toBe(true);

    for (const body of [created.body, kept.body, list.body, one.body])
      expect(JSON.stringify(body)).not.toContain(SECRET);
    expect(logs.text).toContain('alert delivery failed; will retry');
    expect(logs.text).not.toContain(SECRET);
    expect(logs.text).not.toContain('config-secret-abcdef0123456789');
    expect(logs.text).not.toContain(String(rx.got[0]!.headers['x-vulnscan-signature']));
    expect(logs.text).not.toContain('/hooks/vulnscan');

    const cleared = await request(app).put(`/api/alerts/webhooks/${id}`).send({ secret: '' });
    expect(cleared.body.data.secret).toBe('');
    const removed = await request(app).delete(`/api/alerts/webhooks/${id}`);
    expect(removed.body.data._id).toBe(id);
    expect((await request(app).get(`/api/alerts/webhooks/${id}`)).body.code).toBe(5004);
  });

  it.each([
    [{ url: 'ftp://example.com/x' }, 'body.url: must be an http or https URL'],
    [{ url: 'http://example.com/x', minLevel: 'severe' }, 'body.minLevel'],
    [{ url: 'http://example.com/x', secret: 'short' }, 'body.secret: must be at least 16 characters'],
    [{ url: 'http://example.com/x', enabled: 'yes' }, 'body.enabled'],
    [{ url: 'http://example.com/x', token: 'x' }, 'unknown field "token"'],
  ])('When the body is %j, then 5003 names the field and nothing is written', async (body, message) => {
    const { app } = await setup();
    const res = await request(app).post('/api/alerts/webhooks').send(body);
    expect(res.status).toBe(400);
    expect(res.body.code).toBe(5003);
    expect(res.body.data).toContain(message);
    expect(await WebhookModel.countDocuments()).toBe(0);
  });

  it('When the id is malformed or unknown, then 5003 or 5004', async () => {
    const { app } = await setup();
    expect((await request(app).get('/api/alerts/webhooks/nope')).body.code).toBe(5003);
    expect(
      (await request(app).put('/api/alerts/webhooks/0123456789abcdef01234567').send({ enabled: false })).body.code,
    ).toBe(5004);
    expect((await request(app).delete('/api/alerts/webhooks/0123456789abcdef01234567')).body.code).toBe(5004);
  });

  it('When a webhook filters on a registry, then images of other registries do not reach it', async () => {
    const { app, alerts, ctx } = await setup();
    await request(app).post('/api/repository').send({ repository: '127.0.0.2', port: 9 }).expect(200);
    await request(app)
      .post('/api/alerts/webhooks')
      .send({ url: 'http://127.0.0.1:9/x', minLevel: 'low', repository: '127.0.0.2:9' })
      .expect(201);
    const stored = await scanTwoTags();
    expect(await alerts.service.newFindings(digestOf(7), stored.newFindings, ctx)).toBe(0);
  });
});
