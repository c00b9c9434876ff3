import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import { ImageModel } from '../../../src/modules/images';
import { ScanJobModel } from '../../../src/modules/scanner';
import { InboxModel, webhooksFrom } from '../../../src/modules/webhooks';
import { buildTestApp } from '../../helpers/app';
import { debianLayer, pushImage } from '../../helpers/oci-image';
import { startRegistry, type RegistryProcess } from '../../helpers/registry-process';
import { useTestDb } from '../../helpers/test-db';

useTestDb();

const SECRET = 'webhook-secret-0123456789abcdef';
const TOKEN = 'api-token-0123456789abcdef0123456789';
const auth = { Authorization: `Bearer ${TOKEN}` };
const layer = debianLayer([{ name: 'bash', version: '5.2.15-2+b2' }]);

/** The app listens for real: the registry process posts its notifications to it. */
async function listen(env: Record<string, string> = {}) {
  const built = buildTestApp({
    API_TOKENS: TOKEN,
    WEBHOOK_SECRET: SECRET,
    REGISTRY_TEST_TIMEOUT_MS: '3000',
    WEBHOOK_INBOX_POLL_MS: '50',
    ...env,
  });
  // The inbox worker discovers what the webhook stored, as server.ts runs it.
  webhooksFrom(built.deps).worker.start();
  const server = await new Promise<Server>((resolve) => {
    const s = built.app.listen(0, '127.0.0.1', () => resolve(s));
  });
  return { ...built, server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

async function until<T>(what: string, probe: () => Promise<T | null | undefined | false>): Promise<T> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('scan on push from a real registry', () => {
  let reg: RegistryProcess | undefined;
  let server: Server | undefined;
  let stopWorker: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await stopWorker?.();
    await reg?.stop();
    await new Promise((r) => (server ? server.close(r) : r(null)));
  });

  it('When an image is pushed to a registry whose notifications point at the webhook, then exactly that tag is discovered and its digest queued', async () => {
    const app = await listen();
    server = app.server;
    stopWorker = () => webhooksFrom(app.deps).worker.stop();
    reg = await startRegistry({
      notifications: [
        {
          name: 'vulnscan',
          url: `${app.url}/api/webhooks/registry`,
          headers: { Authorization: [`Bearer ${SECRET}`] },
          timeout: '3s',
          threshold: 3,
          backoff: '500ms',
        },
      ],
    });
    // Pushed before the registry is known to vulnscan: its events are ignored (unknown registry), it is never discovered.
    await pushImage(reg.url, 'base/old', ['1.0'], [layer]);
    await until('the ignored push of base/old:1.0', () =>
      InboxModel.findOne({ image: 'base/old', outcome: 'unknownRegistry', state: 'done' }).lean(),
    );
    const created = await request(app.app)
      .post('/api/repository')
      .set(auth)
      .send({ repository: '127.0.0.1', port: reg.port });
    expect(created.body.code).toBe(0);
    const key = `127.0.0.1:${reg.port}`;

    const pushed = await pushImage(reg.url, 'team/app', ['v1'], [layer]);

    const image = await until('the pushed tag in images', () =>
      ImageModel.findOne({ repository: key, image: 'team/app', tag: 'v1' }).lean(),
    );
    expect(image).toMatchObject({ digest: pushed.digest, platform: 'linux/amd64', scanStatus: 'pending' });
    const job = await until('its scan job', () => ScanJobModel.findOne({ digest: pushed.digest }).lean());
    expect(job).toMatchObject({ repository: key, image: 'team/app', state: 'queued' });
    expect(await ImageModel.countDocuments()).toBe(1);
    expect(await ScanJobModel.countDocuments()).toBe(1);
    // The registry delivered every event (blob pushes, pulls, the unknown registry's) and got 202 each time.
    const replies = app.logs
      .records()
      .filter((r) => String(r.msg).startsWith('POST /api/webhooks/registry '))
      .map((r) => (r.res as { statusCode: number }).statusCode);
    expect(replies.length).toBeGreaterThan(1);
    expect(replies.every((s) => s === 202)).toBe(true);
  });
});

describe('POST /api/webhooks/registry', () => {
  let reg: RegistryProcess;
  beforeAll(async () => {
    reg = await startRegistry();
  });
  afterAll(async () => {
    await reg?.stop();
  });

  async function withRegistry(env: Record<string, string> = {}) {
    const built = buildTestApp({ API_TOKENS: TOKEN, WEBHOOK_SECRET: SECRET, ...env });
    const drain = () => webhooksFrom(built.deps).worker.drain();
    await request(built.app)
      .post('/api/repository')
      .set(auth)
      .send({ repository: '127.0.0.1', port: reg.port, name: 'lab' });
    return { ...built, drain };
  }

  const distribution = (events: unknown[]) => ({ events });
  let eventSeq = 0;
  const pushEvent = (
    repository: string,
    tag: string | undefined,
    host: string,
    mediaType = 'application/vnd.oci.image.manifest.v1+json',
  ) => ({
    id: `e${++eventSeq}`,
    timestamp: '2026-03-01T00:00:00Z',
    action: 'push',
    target: {
      mediaType,
      digest: 'sha256:' + '0'.repeat(64),
      repository,
      ...(tag ? { tag } : {}),
      url: `http://${host}/v2/${repository}/manifests/x`,
    },
    request: { id: 'r1', addr: '127.0.0.1:1234', host, method: 'PUT', useragent: 'docker' },
    actor: {},
    source: { addr: host, instanceID: 'i' },
  });

  it('When a Harbor PUSH_ARTIFACT webhook arrives with the bare secret, then its tagged resources are queued and untagged ones ignored', async () => {
    const { app, drain } = await withRegistry();
    const pushed = await pushImage(reg.url, 'library/nginx', ['1.27'], [layer]);
    const body = {
      type: 'PUSH_ARTIFACT',
      occur_at: 1700000000,
      operator: 'admin',
      event_data: {
        resources: [
          { digest: pushed.digest, tag: '1.27', resource_url: `127.0.0.1:${reg.port}/library/nginx:1.27` },
          { digest: pushed.digest, resource_url: `127.0.0.1:${reg.port}/library/nginx@${pushed.digest}` },
        ],
        repository: {
          date_created: 1,
          name: 'nginx',
          namespace: 'library',
          repo_full_name: 'library/nginx',
          repo_type: 'private',
        },
      },
    };

    const res = await request(app).post('/api/webhooks/registry').set('Authorization', SECRET).send(body);

    expect(res.status).toBe(202);
    expect(res.body.data).toEqual({
      events: 2,
      accepted: 1,
      ignored: { notPush: 0, blob: 0, untagged: 1, duplicate: 0 },
    });
    expect(await ScanJobModel.countDocuments()).toBe(0);
    await drain();
    expect(
      await InboxModel.find({}, { _id: 0, state: 1, outcome: 1, registry: 1, digests: 1, queued: 1 }).lean(),
    ).toEqual([{ state: 'done', outcome: 'queued', registry: `127.0.0.1:${reg.port}`, digests: 1, queued: 1 }]);
    expect(await ScanJobModel.find({}, { digest: 1, state: 1, _id: 0 }).lean()).toEqual([
      { digest: pushed.digest, state: 'queued' },
    ]);
  });

  it('When a distribution envelope holds pulls, blob pushes, a tag-less push and a tag push, then only the tag is queued and the rest counted', async () => {
    const { app, drain } = await withRegistry();
    const pushed = await pushImage(reg.url, 'team/api', ['2.0'], [layer]);
    const host = `127.0.0.1:${reg.port}`;
    const events = [
      { ...pushEvent('team/api', '2.0', host), action: 'pull' },
      pushEvent('team/api', undefined, host, 'application/vnd.oci.image.layer.v1.tar+gzip'),
      pushEvent('team/api', undefined, host),
      pushEvent('team/api', '2.0', host),
      pushEvent('team/api', '2.0', host),
      pushEvent('team/api', 'deleted-meanwhile', host),
    ];

    const res = await request(app)
      .post('/api/webhooks/registry')
      .set('Authorization', `Bearer ${SECRET}`)
      .set('Content-Type', 'application/vnd.docker.distribution.events.v1+json')
      .send(JSON.stringify(distribution(events)));

    expect(res.status).toBe(202);
    expect(res.body.data).toEqual({
      events: 6,
      accepted: 3,
      ignored: { notPush: 1, blob: 1, untagged: 1, duplicate: 0 },
    });
    await drain();
    // Two pushes of 2.0 make one work item: one discovery serves both events.
    const outcomes = (await InboxModel.find({}, { tag: 1, outcome: 1, eventIds: 1 }).sort({ tag: 1 }).lean()).map(
      (it) => ({ tag: it.tag, outcome: it.outcome, events: it.eventIds.length }),
    );
    expect(outcomes).toEqual([
      { tag: '2.0', outcome: 'queued', events: 2 },
      { tag: 'deleted-meanwhile', outcome: 'gone', events: 1 },
    ]);
    expect(await ImageModel.find({}, { image: 1, tag: 1, digest: 1, _id: 0 }).lean()).toEqual([
      { image: 'team/api', tag: '2.0', digest: pushed.digest },
    ]);
  });

  it('When the event host names no registry, then the push is ignored (202, then unknownRegistry) unless ?repository= names one', async () => {
    const { app, drain } = await withRegistry();
    await pushImage(reg.url, 'team/web', ['3'], [layer]);
    const body = distribution([pushEvent('team/web', '3', 'registry.example.com')]);

    const unmatched = await request(app)
      .post('/api/webhooks/registry')
      .set('Authorization', `Bearer ${SECRET}`)
      .send(body);
    const named = await request(app)
      .post('/api/webhooks/registry?repository=lab')
      .set('Authorization', `Bearer ${SECRET}`)
      .send(body);
    const unknown = await request(app)
      .post('/api/webhooks/registry?repository=nope.example.com:5000')
      .set('Authorization', `Bearer ${SECRET}`)
      .send(body);

    expect(unknown.status).toBe(404);
    expect(unknown.body.code).toBe(5004);
    expect([unmatched.status, named.status]).toEqual([202, 202]);
    expect([unmatched.body.data.accepted, named.body.data.accepted]).toEqual([1, 1]);
    await drain();
    expect(await InboxModel.find({}, { _id: 0, repository: 1, outcome: 1 }).sort({ outcome: 1 }).lean()).toEqual([
      { repository: `127.0.0.1:${reg.port}`, outcome: 'queued' },
      { repository: null, outcome: 'unknownRegistry' },
    ]);
    expect(await ScanJobModel.countDocuments()).toBe(1);
  });

  it('When the secret is missing or wrong, then 5007/401 and nothing is queued; the API token is not accepted instead', async () => {
    const { app } = await withRegistry();
    const body = distribution([pushEvent('team/x', '1', `127.0.0.1:${reg.port}`)]);

    const missing = await request(app).post('/api/webhooks/registry').send(body);
    const wrong = await request(app)
      .post('/api/webhooks/registry')
      .set('Authorization', `Bearer ${SECRET}x`)
      .send(body);
    const apiToken = await request(app).post('/api/webhooks/registry').set(auth).send(body);

    for (const res of [missing, wrong, apiToken]) {
      expect(res.status).toBe(401);
      expect(res.body).toMatchObject({ code: 5007, message: 'authException' });
    }
    expect(await InboxModel.countDocuments()).toBe(0);
  });

  it('When WEBHOOK_SECRET is not configured, then the endpoint answers 5007/401 saying it is disabled', async () => {
    const { app } = buildTestApp({ API_TOKENS: TOKEN });

    const res = await request(app)
      .post('/api/webhooks/registry')
      .set('Authorization', 'Bearer anything')
      .send({ events: [] });

    expect(res.status).toBe(401);
    expect(res.body.data).toMatch(/disabled: set WEBHOOK_SECRET/);
  });

  it('When the body is neither format, or a field is wrong, or not JSON, then 5003 names the problem and nothing is queued', async () => {
    const { app } = await withRegistry();
    const post = () => request(app).post('/api/webhooks/registry').set('Authorization', `Bearer ${SECRET}`);

    const neither = await post().send({ hello: 'world' });
    const badEvents = await post().send({ events: 'push' });
    const badName = await post().send(distribution([pushEvent('Team/../x', '1', 'h:1')]));
    const notJson = await post().set('Content-Type', 'application/json').send('{"events": [');
    const harborNoRepo = await post().send({ type: 'PUSH_ARTIFACT', event_data: { resources: [{ tag: 'x' }] } });

    for (const res of [neither, badEvents, badName, notJson, harborNoRepo]) {
      expect(res.status).toBe(400);
      expect(res.body.code).toBe(5003);
    }
    expect(neither.body.data).toMatch(/distribution notification envelope .* or a Harbor webhook/);
    expect(badEvents.body.data).toMatch(/^body\.events: /);
    expect(badName.body.data).toMatch(/^body\.events\.0\.target\.repository: /);
    expect(harborNoRepo.body.data).toMatch(/repo_full_name: is required/);
    expect(await InboxModel.countDocuments()).toBe(0);
  });
});
