import request from 'supertest';
import type { Ctx } from '../../src/http/context';
import { ImageModel, type ImageDoc } from '../../src/modules/images';
import { ScanJobModel, scannerFrom } from '../../src/modules/scanner';
import { buildTestApp } from '../helpers/app';
import { MT, buildLayer, pushBlob, pushImage, pushManifest } from '../helpers/oci-image';
import { startRegistry, type RegistryProcess } from '../helpers/registry-process';
import { startRegistryProxy, type RegistryProxy } from '../helpers/registry-proxy';
import { useTestDb } from '../helpers/test-db';

useTestDb();

/**
 * Discovery that costs what changed, against a real docker-registry behind a counting proxy: an
 * unchanged tag costs one HEAD and no write; per-tag errors are typed (issue 12).
 */
let registry: RegistryProcess;
let proxy: RegistryProxy;
beforeEach(async () => {
  registry = await startRegistry();
  proxy = await startRegistryProxy(registry.port);
});
afterEach(async () => {
  await proxy?.close();
  await registry?.stop();
});

const layer = (n: string) => buildLayer({ 'etc/': '', 'etc/hostname': `${n}\n` });

async function setup() {
  const t = buildTestApp({ REGISTRY_TEST_TIMEOUT_MS: '3000' });
  const res = await request(t.app).post('/api/repository').send({ repository: '127.0.0.1', port: proxy.port });
  expect(res.body.code).toBe(0);
  const key = res.body.data.key as string;
  const scanner = scannerFrom(t.deps);
  const ctx: Ctx = { log: t.logger };
  return {
    ...t,
    key,
    scanner,
    discover: () => scanner.service.discover({ repository: key }, ctx),
  };
}

const snapshot = () =>
  ImageModel.find({}, { _id: 0, image: 1, tag: 1, digest: 1, present: 1, seenAt: 1, modifiedAt: 1 })
    .sort({ image: 1, tag: 1 })
    .lean<ImageDoc[]>();

/** Requests since `from` that read manifests or blobs, by method. */
function reads(from: number) {
  const after = proxy.requests.slice(from);
  return {
    headManifests: after.filter((r) => r.method === 'HEAD' && r.path.includes('/manifests/')).length,
    getManifests: after.filter((r) => r.method === 'GET' && r.path.includes('/manifests/')).length,
    getBlobs: after.filter((r) => r.method === 'GET' && r.path.includes('/blobs/')).length,
  };
}

describe('discovery diff', () => {
  it('When nothing changed since the last discovery, then each tag costs one HEAD, no GET, and no image is written', async () => {
    for (let r = 0; r < 3; r++) {
      const img = await pushImage(registry.url, `repo-${r}/app`, ['1'], [layer(`r${r}`)]);
      for (let t = 2; t <= 4; t++)
        await pushManifest(registry.url, `repo-${r}/app`, String(t), img.manifest, MT.ociManifest);
    }
    const { discover } = await setup();
    const first = await discover();
    expect(first).toMatchObject({ tags: 12, platformImages: 12, unchanged: 0, digests: 3, queued: 3 });
    const before = await snapshot();
    const mark = proxy.requests.length;

    const second = await discover();

    expect(second).toMatchObject({ tags: 12, platformImages: 12, unchanged: 12, vanished: 0, queued: 0 });
    expect(reads(mark)).toEqual({ headManifests: 12, getManifests: 0, getBlobs: 0 });
    expect(await snapshot()).toEqual(before);
  });

  it('When one tag moved to a new digest, then only that tag is read with GET and written', async () => {
    await pushImage(registry.url, 'moving/app', ['stay', 'move'], [layer('v1')]);
    const { discover } = await setup();
    await discover();
    const before = await snapshot();
    const moved = await pushImage(registry.url, 'moving/app', ['move'], [layer('v2')]);
    const mark = proxy.requests.length;

    const result = await discover();

    expect(result).toMatchObject({ tags: 2, unchanged: 1, queued: 1 });
    expect(reads(mark)).toEqual({ headManifests: 2, getManifests: 1, getBlobs: 1 });
    const after = await snapshot();
    expect(after.find((i) => i.tag === 'stay')).toEqual(before.find((i) => i.tag === 'stay'));
    expect(after.find((i) => i.tag === 'move')).toMatchObject({ digest: moved.digest, present: true });
  });

  it('When a manifest answers 503 during a full discovery, then the discovery fails, records the error and hides no tag', async () => {
    await pushImage(registry.url, 'flaky/app', ['a'], [layer('a')]);
    await pushImage(registry.url, 'flaky/app', ['b'], [layer('b')]);
    const { discover, scanner, key } = await setup();
    await discover();
    proxy.fail = (r) => (r.path.endsWith('/manifests/b') ? 503 : null);

    await expect(discover()).rejects.toThrow(/503/);

    expect((await snapshot()).map((i) => [i.tag, i.present])).toEqual([
      ['a', true],
      ['b', true],
    ]);
    const progress = await scanner.service.progress(key);
    expect(progress.lastDiscovery?.error).toMatch(/503/);
  });

  it('When a manifest answers 403 during a full discovery, then the discovery fails and hides no tag', async () => {
    await pushImage(registry.url, 'denied/app', ['a', 'b'], [layer('d')]);
    const { discover } = await setup();
    await discover();
    proxy.fail = (r) => (r.path.endsWith('/manifests/a') ? 403 : null);

    await expect(discover()).rejects.toThrow(/403/);

    expect((await snapshot()).every((i) => i.present)).toBe(true);
  });

  it('When a listed tag answers 404 (deleted meanwhile), then it is skipped and the others are stored', async () => {
    await pushImage(registry.url, 'half/app', ['ok'], [layer('ok')]);
    proxy.fail = (r) => (r.path.includes('/manifests/') && r.path.endsWith('/gone') ? 404 : null);
    await pushImage(registry.url, 'half/app', ['gone'], [layer('gone')]);
    const { discover } = await setup();

    const result = await discover();

    expect(result).toMatchObject({ tags: 2, skippedTags: 1, platformImages: 1 });
    expect((await snapshot()).map((i) => i.tag)).toEqual(['ok']);
  });

  it('When a repository holds a Helm chart, a cosign signature tag and an OCI artifact, then only the image is stored', async () => {
    const img = await pushImage(registry.url, 'mixed/app', ['1.0'], [layer('img')]);
    // A Helm chart: an OCI manifest whose config is a Helm config.
    const chartCfg = Buffer.from(JSON.stringify({ name: 'app', version: '1.0.0' }));
    const chartLayer = Buffer.from('chart-bytes');
    const chart = {
      schemaVersion: 2,
      mediaType: MT.ociManifest,
      config: {
        mediaType: 'application/vnd.cncf.helm.config.v1+json',
        digest: await pushBlob(registry.url, 'mixed/app', chartCfg),
        size: chartCfg.length,
      },
      layers: [
        {
          mediaType: 'application/vnd.cncf.helm.chart.content.v1.tar+gzip',
          digest: await pushBlob(registry.url, 'mixed/app', chartLayer),
          size: chartLayer.length,
        },
      ],
    };
    await pushManifest(registry.url, 'mixed/app', 'chart-1.0.0', chart, MT.ociManifest);
    // A cosign signature tag, pushed as an ordinary image manifest.
    await pushManifest(registry.url, 'mixed/app', `${img.digest.replace(':', '-')}.sig`, img.manifest, MT.ociManifest);
    // An OCI 1.1 artifact (empty config).
    const empty = Buffer.from('{}');
    const artifact = {
      schemaVersion: 2,
      mediaType: MT.ociManifest,
      artifactType: 'application/spdx+json',
      config: {
        mediaType: 'application/vnd.oci.empty.v1+json',
        digest: await pushBlob(registry.url, 'mixed/app', empty),
        size: 2,
      },
      layers: [{ mediaType: 'application/spdx+json', digest: chart.layers[0]!.digest, size: chartLayer.length }],
    };
    await pushManifest(registry.url, 'mixed/app', 'sbom', artifact, MT.ociManifest);
    const { discover } = await setup();

    const result = await discover();

    expect(result).toMatchObject({ tags: 4, platformImages: 1, skippedTags: 3, digests: 1 });
    expect((await snapshot()).map((i) => i.tag)).toEqual(['1.0']);
    expect(await ScanJobModel.countDocuments()).toBe(1);
  });
});
