import { createServer, type Server } from 'node:http';
import request from 'supertest';
import type { Ctx } from '../../src/http/context';
import { ImageModel } from '../../src/modules/images';
import { scannerFrom } from '../../src/modules/scanner';
import { readLease } from '../../src/db/lease';
import { buildTestApp } from '../helpers/app';
import { buildLayer, pushImage } from '../helpers/oci-image';
import { startRegistry, type RegistryProcess } from '../helpers/registry-process';
import { useTestDb } from '../helpers/test-db';

useTestDb();

/**
 * A registry that is down (killed, or answering 503 for manifests while its storage is away) must
 * make a discovery fail with the error recorded, never mark the tags it could not read as vanished.
 */
let registry: RegistryProcess;
let front: Server;
let frontPort: number;
/** When set, the front answers this status to every manifest request. */
let manifestStatus: number | null = null;

beforeEach(async () => {
  manifestStatus = null;
  registry = await startRegistry();
  // A pass-through front for the registry (GET/HEAD only: discovery reads), which can fail manifests.
  front = createServer((req, res) => {
    if (manifestStatus && /\/manifests\//.test(req.url!)) {
      res.writeHead(manifestStatus, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ errors: [{ code: 'UNAVAILABLE', message: 'storage backend unavailable' }] }));
      return;
    }
    const headers = Object.fromEntries(
      Object.entries(req.headers).filter(([k]) => k !== 'host' && typeof req.headers[k] === 'string'),
    ) as Record<string, string>;
    fetch(`${registry.url}${req.url}`, { method: req.method, headers }).then(
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
  await registry?.stop();
  await new Promise<void>((r) => front.close(() => r()));
});

const layer = (n: string) => buildLayer({ 'etc/': '', 'etc/hostname': `${n}\n` });

async function setup() {
  await pushImage(registry.url, 'team/a', ['1.0'], [layer('a')]);
  await pushImage(registry.url, 'team/b', ['1.0', '2.0'], [layer('b')]);
  const t = buildTestApp({ REGISTRY_TEST_TIMEOUT_MS: '3000', REGISTRY_TIMEOUT_MS: '2000' });
  const res = await request(t.app).post('/api/repository').send({ repository: '127.0.0.1', port: frontPort });
  expect(res.body.code).toBe(0);
  const key = res.body.data.key as string;
  const ctx: Ctx = { log: t.logger };
  const scanner = scannerFrom(t.deps);
  const discover = () => scanner.service.discover({ repository: key }, ctx);
  await discover();
  return { key, discover };
}

const present = async () =>
  (await ImageModel.find({}, { _id: 0, image: 1, tag: 1, present: 1 }).sort({ image: 1, tag: 1 }).lean()).map(
    (d) => `${d.image}:${d.tag}:${d.present}`,
  );

describe('discovery when the registry is down', () => {
  it('When manifests answer 503, then the discovery fails with that error recorded and no tag is marked vanished', async () => {
    const { key, discover } = await setup();
    expect(await present()).toEqual(['team/a:1.0:true', 'team/b:1.0:true', 'team/b:2.0:true']);

    manifestStatus = 503;
    await expect(discover()).rejects.toThrow(/503/);

    expect(await present()).toEqual(['team/a:1.0:true', 'team/b:1.0:true', 'team/b:2.0:true']);
    const lease = await readLease(`discover:${key}`);
    expect(lease?.data.error).toEqual(expect.stringContaining('503'));
  });

  it('When the registry process is gone, then the discovery fails, the error names the registry, and nothing vanishes', async () => {
    const { key, discover } = await setup();

    await registry.stop();
    await expect(discover()).rejects.toThrow(/registry/);

    expect(await present()).toEqual(['team/a:1.0:true', 'team/b:1.0:true', 'team/b:2.0:true']);
    expect((await readLease(`discover:${key}`))?.data.error).toEqual(expect.any(String));
  });
});
