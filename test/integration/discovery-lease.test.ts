import http, { type Server } from 'node:http';
import request from 'supertest';
import { acquireLease, LeaseLostError, LeaseModel } from '../../src/db/lease';
import type { Ctx } from '../../src/http/context';
import { ImageModel } from '../../src/modules/images';
import { scannerFrom } from '../../src/modules/scanner';
import { buildTestApp } from '../helpers/app';
import { buildLayer, pushImage } from '../helpers/oci-image';
import { startRegistry, type RegistryProcess } from '../helpers/registry-process';
import { useTestDb } from '../helpers/test-db';

useTestDb();

/**
 * A registry discovery holds the lease `discover:<key>`: one per registry anywhere, this process
 * included; a lost lease stops it before anything is hidden; a registry error on one tag (anything
 * but 404 or an unsupported media type) stops it too, recorded as the registry's last discovery.
 */
let registry: RegistryProcess;
let front: Server;
let frontPort: number;
/** Status to answer a request with instead of forwarding it (null: forward). */
let fail: (method: string, path: string) => number | null = () => null;
/** Requests held (never answered) until released; the client's abort closes them. */
let hold: (path: string) => boolean = () => false;
const held: Array<{ path: string; closed: boolean; release(status: number): void }> = [];

beforeEach(async () => {
  fail = () => null;
  hold = () => false;
  held.length = 0;
  registry = await startRegistry();
  front = http.createServer((req, res) => {
    const path = req.url!;
    const status = fail(req.method!, path);
    if (status) {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ errors: [{ code: 'DENIED', message: 'injected by the test' }] }));
      return;
    }
    if (hold(path)) {
      const h = {
        path,
        closed: false,
        release(code: number) {
          if (res.destroyed) return;
          res.writeHead(code, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ errors: [{ code: 'NAME_UNKNOWN', message: 'gone' }] }));
        },
      };
      res.on('close', () => (h.closed = true));
      held.push(h);
      return;
    }
    const headers = Object.fromEntries(
      Object.entries(req.headers).filter(([k]) => k !== 'host' && typeof req.headers[k] === 'string'),
    ) as Record<string, string>;
    fetch(`${registry.url}${path}`, { method: req.method, headers }).then(
      async (up) => {
        res.writeHead(up.status, Object.fromEntries(up.headers));
        res.end(Buffer.from(await up.arrayBuffer()));
      },
      () => res.destroy(),
    );
  });
  await new Promise<void>((r) => front.listen(0, '127.0.0.1', r));
  frontPort = (front.address() as { port: number }).port;
});
afterEach(async () => {
  for (const h of held) h.release(503);
  await registry?.stop();
  front.closeAllConnections();
  await new Promise<void>((r) => front.close(() => r()));
});

const layer = (n: string) => buildLayer({ 'etc/': '', 'etc/hostname': `${n}\n` });

async function setup(env: Record<string, string> = {}) {
  await pushImage(registry.url, 'team/a', ['1.0'], [layer('a')]);
  await pushImage(registry.url, 'team/b', ['1.0', '2.0'], [layer('b')]);
  const t = buildTestApp({ REGISTRY_TEST_TIMEOUT_MS: '3000', REGISTRY_TIMEOUT_MS: '20000', ...env });
  const res = await request(t.app).post('/api/repository').send({ repository: '127.0.0.1', port: frontPort });
  expect(res.body.code).toBe(0);
  const key = res.body.data.key as string;
  const ctx: Ctx = { log: t.logger };
  const scanner = scannerFrom(t.deps).service;
  const discover = () => scanner.discover({ repository: key }, ctx);
  expect(await discover()).toMatchObject({ tags: 3, vanished: 0 });
  const lastDiscovery = async () =>
    (await request(t.app).get('/api/scanner/jobs').query({ repository: key })).body.data.lastDiscovery;
  return { key, discover, scanner, ctx, lastDiscovery, logs: t.logs };
}

const present = async () =>
  (await ImageModel.find({}, { _id: 0, image: 1, tag: 1, present: 1 }).sort({ image: 1, tag: 1 }).lean()).map(
    (d) => `${d.image}:${d.tag}:${d.present}`,
  );
const ALL_PRESENT = ['team/a:1.0:true', 'team/b:1.0:true', 'team/b:2.0:true'];

describe('discovery: errors on one tag', () => {
  it.each([503, 403])(
    'When one manifest answers %i during a full discovery, then the discovery stops, that tag stays present and the error is the last discovery’s',
    async (status) => {
      const { discover, lastDiscovery } = await setup();
      fail = (_m, path) => (path === '/v2/team/b/manifests/2.0' ? status : null);

      await expect(discover()).rejects.toThrow(new RegExp(String(status)));

      expect(await present()).toEqual(ALL_PRESENT);
      const last = await lastDiscovery();
      expect(last.error).toEqual(expect.stringContaining(String(status)));
      expect(last.tags).toBeNull();
    },
  );

  it('When one manifest answers 404 (deleted meanwhile), then only that tag is skipped and the discovery succeeds', async () => {
    const { discover, lastDiscovery } = await setup();
    fail = (_m, path) => (path === '/v2/team/b/manifests/2.0' ? 404 : null);

    expect(await discover()).toMatchObject({ tags: 3, skippedTags: 1 });

    expect((await lastDiscovery()).error).toBeNull();
  });
});

describe('discovery: the registry lease', () => {
  it('When the lease is taken over mid discovery, then the registry call in flight is cancelled, the discovery stops and nothing is marked vanished', async () => {
    const { key, discover, logs } = await setup({ SCAN_LEASE_MS: '1500' });
    // The tag list of team/b hangs; answered 404 later (what an old run would take as "all its tags gone").
    hold = (path) => path.startsWith('/v2/team/b/tags/list');
    const running = discover();
    running.catch(() => undefined);
    await waitFor(() => held.length === 1);

    // Another instance takes the lease once it has run out (as after a stall of this one).
    await LeaseModel.updateOne({ _id: `discover:${key}` }, { $set: { until: new Date(Date.now() - 1) } });
    const other = await acquireLease(`discover:${key}`, 'other-instance', 60_000);
    expect(other).not.toBeNull();

    await expect(running).rejects.toBeInstanceOf(LeaseLostError);
    await waitFor(() => held[0]!.closed);
    held[0]!.release(404);

    expect(await present()).toEqual(ALL_PRESENT);
    expect(logs.text).toContain('lease lost');
    // The other instance's lease is untouched by the loser's release.
    expect(await LeaseModel.findById(`discover:${key}`).lean()).toMatchObject({
      owner: 'other-instance',
      token: other!.token,
    });
  });

  it('When two discoveries of one registry are triggered in one process at once, then one runs and the other is refused', async () => {
    const { discover, scanner, ctx, key } = await setup();

    const [a, b] = await Promise.all([discover(), discover()]);
    expect([a, b].filter((r) => r === null)).toHaveLength(1);
    expect([a, b].find((r) => r !== null)).toMatchObject({ tags: 3 });

    // A scan-all slot and the registry's schedule in the same tick: one background discovery starts.
    const [all, one] = await Promise.all([scanner.scanAll({}, ctx), scanner.scanRegistry(key, ctx)]);
    expect([all.registries[0]!.started, one.started].filter(Boolean)).toHaveLength(1);
    await scanner.idle();
    expect(await present()).toEqual(ALL_PRESENT);
  });
});

async function waitFor(cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
