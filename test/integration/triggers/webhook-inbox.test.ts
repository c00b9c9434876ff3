import request from 'supertest';
import { ImageModel } from '../../../src/modules/images';
import { ScanJobModel } from '../../../src/modules/scanner';
import { InboxModel, ReceiptModel, webhooksFrom } from '../../../src/modules/webhooks';
import { buildTestApp } from '../../helpers/app';
import { closedPort } from '../../helpers/fakes/fake-http-server';
import { debianLayer, pushImage } from '../../helpers/oci-image';
import { startRegistry, type RegistryProcess } from '../../helpers/registry-process';
import { useTestDb } from '../../helpers/test-db';

useTestDb();

/**
 * The webhook inbox: events are stored before the 202, discovered by the inbox worker, once per
 * event id, and still there for another app object (a restart) when nobody processed them.
 */

const SECRET = 'webhook-secret-0123456789abcdef';
const hook = { Authorization: `Bearer ${SECRET}` };
const layer = debianLayer([{ name: 'bash', version: '5.2.15-2+b2' }]);

function pushEvent(id: string, image: string, tag: string, host: string) {
  return {
    id,
    action: 'push',
    target: {
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      digest: 'sha256:' + '0'.repeat(64),
      repository: image,
      tag,
      url: `http://${host}/v2/${image}/manifests/${tag}`,
    },
    request: { host },
  };
}

async function until<T>(what: string, probe: () => Promise<T | null | undefined | false>): Promise<T> {
  const deadline = Date.now() + 240_000;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('webhook inbox', () => {
  let reg: RegistryProcess;
  let host: string;
  const TAGS = Array.from({ length: 10 }, (_, i) => `t${i}`);
  beforeAll(async () => {
    reg = await startRegistry();
    host = `127.0.0.1:${reg.port}`;
    await pushImage(reg.url, 'team/app', TAGS, [layer]);
  });
  afterAll(async () => {
    await reg?.stop();
  });

  function appWithRegistry() {
    const built = buildTestApp({ WEBHOOK_SECRET: SECRET, WEBHOOK_INBOX_POLL_MS: '50' });
    return built;
  }

  it('When 1,000 push events arrive in a burst, then every delivery is answered 202 after storing, and the worker processes all of them', async () => {
    const { app, deps } = appWithRegistry();
    expect(
      (await request(app).post('/api/repository').send({ repository: '127.0.0.1', port: reg.port })).body.code,
    ).toBe(0);
    // Ten deliveries of 100 events each, sent at once: 1,000 pushes over ten tags.
    const deliveries = Array.from({ length: 10 }, (_, d) =>
      Array.from({ length: 100 }, (_, i) => pushEvent(`burst-${d}-${i}`, 'team/app', TAGS[(d * 100 + i) % 10], host)),
    );

    const replies = await Promise.all(
      deliveries.map((events) => request(app).post('/api/webhooks/registry').set(hook).send({ events })),
    );

    expect(replies.map((r) => r.status)).toEqual(Array(10).fill(202));
    expect(replies.map((r) => r.body.data.accepted)).toEqual(Array(10).fill(100));
    // Answered before any discovery: every event recorded, one work item per tag and delivery, none processed.
    expect(await ReceiptModel.countDocuments()).toBe(1000);
    expect(await InboxModel.countDocuments({ state: 'pending' })).toBe(100);
    expect(await ImageModel.countDocuments()).toBe(0);

    const worker = webhooksFrom(deps).worker;
    worker.start();
    try {
      await until(
        'every work item processed',
        async () => (await InboxModel.countDocuments({ state: { $ne: 'done' } })) === 0,
      );
    } finally {
      await worker.stop();
    }

    const items = await InboxModel.find({}, { outcome: 1, eventIds: 1 }).lean();
    expect(items.reduce((n, it) => n + it.eventIds.length, 0)).toBe(1000);
    expect(new Set(items.flatMap((it) => it.eventIds)).size).toBe(1000);
    // At least one discovery per tag; items of a tag waiting behind its discovery ride along.
    expect(items.every((it) => it.outcome === 'queued' || it.outcome === 'coalesced')).toBe(true);
    expect(items.filter((it) => it.outcome === 'queued').length).toBeGreaterThanOrEqual(10);
    expect(
      (await ImageModel.find({ repository: host }, { tag: 1 }).lean())
        .map((i) => i.tag)
        .sort((a, b) => a.localeCompare(b)),
    ).toEqual(TAGS);
    // The ten tags share one digest: one scan job.
    expect(await ScanJobModel.countDocuments()).toBe(1);
  }, 300_000);

  it('When the same events are delivered again, then they are stored once and counted as duplicates', async () => {
    const { app, deps } = appWithRegistry();
    await request(app).post('/api/repository').send({ repository: '127.0.0.1', port: reg.port });
    const events = [pushEvent('again-1', 'team/app', 't1', host), pushEvent('again-2', 'team/app', 't2', host)];

    const first = await request(app).post('/api/webhooks/registry').set(hook).send({ events });
    const second = await request(app).post('/api/webhooks/registry').set(hook).send({ events });
    await webhooksFrom(deps).worker.drain();
    const third = await request(app).post('/api/webhooks/registry').set(hook).send({ events });

    expect(first.body.data).toMatchObject({ accepted: 2, ignored: { duplicate: 0 } });
    expect(second.body.data).toMatchObject({ accepted: 0, ignored: { duplicate: 2 } });
    expect(third.body.data).toMatchObject({ accepted: 0, ignored: { duplicate: 2 } });
    expect((await ReceiptModel.find({}, { _id: 1 }).sort({ _id: 1 }).lean()).map((r) => r._id)).toEqual([
      'dist:again-1',
      'dist:again-2',
    ]);
    expect(await InboxModel.find({}, { _id: 0, tag: 1, state: 1 }).sort({ tag: 1 }).lean()).toEqual([
      { tag: 't1', state: 'done' },
      { tag: 't2', state: 'done' },
    ]);
  });

  it('When the app that stored events is replaced before processing them, then the new app object processes them', async () => {
    const first = appWithRegistry();
    await request(first.app).post('/api/repository').send({ repository: '127.0.0.1', port: reg.port });
    const events = TAGS.slice(0, 3).map((t) => pushEvent(`restart-${t}`, 'team/app', t, host));
    expect((await request(first.app).post('/api/webhooks/registry').set(hook).send({ events })).status).toBe(202);

    // A restart: new config, deps, services and worker over the same database.
    const second = appWithRegistry();
    const processed = await webhooksFrom(second.deps).worker.drain();

    expect(processed).toBeGreaterThanOrEqual(1);
    expect(await InboxModel.countDocuments({ state: 'done' })).toBe(3);
    expect((await ImageModel.find({}, { tag: 1 }).lean()).map((i) => i.tag).sort((a, b) => a.localeCompare(b))).toEqual(
      TAGS.slice(0, 3),
    );
  });

  it('When the registry cannot be read at processing time, then the event stays in the inbox for a retry with the reason', async () => {
    const { app, deps } = appWithRegistry();
    const port = await closedPort();
    await request(app).post('/api/repository').send({ repository: '127.0.0.1', port });
    const down = `127.0.0.1:${port}`;

    const res = await request(app)
      .post('/api/webhooks/registry')
      .set(hook)
      .send({ events: [pushEvent('down-1', 'team/app', 't1', down)] });
    const now = new Date();
    const claimed = await webhooksFrom(deps).worker.runOnce(now);

    expect(res.status).toBe(202);
    expect(claimed).toBe(true);
    const doc = await InboxModel.findOne({ eventIds: 'dist:down-1' }).lean();
    expect(doc).toMatchObject({ state: 'pending', attempts: 1, registry: null, outcome: null });
    expect(doc!.lastError).toMatch(/connection refused/);
    expect(doc!.notBefore.getTime()).toBeGreaterThan(now.getTime());
    // Not due yet: the next look finds nothing to do.
    expect(await webhooksFrom(deps).worker.runOnce(now)).toBe(false);
  });
});
