import mongoose from 'mongoose';
import request from 'supertest';
import type { Ctx } from '../../src/http/context';
import { ImageModel, type ImageDoc } from '../../src/modules/images';
import { ScanJobModel, scannerFrom } from '../../src/modules/scanner';
import { buildTestApp } from '../helpers/app';
import { MT, buildLayer, pushImage, pushManifest } from '../helpers/oci-image';
import { freePort, startRegistry, type RegistryProcess } from '../helpers/registry-process';
import { useTestDb } from '../helpers/test-db';

useTestDb();

/**
 * Discovery against a real docker-registry: every test gets a fresh registry process (tags and
 * repositories of one test must not leak into another's listing).
 */
let registry: RegistryProcess;
beforeEach(async () => {
  registry = await startRegistry();
});
afterEach(async () => {
  await registry?.stop();
});

const layer = (n: string) => buildLayer({ 'etc/': '', 'etc/hostname': `${n}\n` });

async function setup(env: Record<string, string> = {}) {
  const t = buildTestApp({ REGISTRY_TEST_TIMEOUT_MS: '3000', ...env });
  const res = await request(t.app).post('/api/repository').send({ repository: '127.0.0.1', port: registry.port });
  expect(res.body.code).toBe(0);
  const key = res.body.data.key as string;
  const scanner = scannerFrom(t.deps);
  const ctx: Ctx = { log: t.logger };
  return {
    ...t,
    key,
    scanner,
    ctx,
    discover: (req: { image?: string; tag?: string } = {}) =>
      scanner.service.discover({ repository: key, ...req }, ctx),
  };
}

const images = () =>
  ImageModel.find(
    {},
    { _id: 0, repository: 1, image: 1, tag: 1, platform: 1, digest: 1, tagDigest: 1, present: 1, scanStatus: 1 },
  )
    .sort({ image: 1, tag: 1, platform: 1 })
    .lean<ImageDoc[]>();

describe('discovery', () => {
  it('When a registry holds one single-platform image, then one pending image and one queued job are stored', async () => {
    const pushed = await pushImage(registry.url, 'team/app', ['1.0'], [layer('a')]);
    const { discover, key } = await setup();

    const result = await discover();

    expect(result).toMatchObject({
      repository: key,
      tags: 1,
      platformImages: 1,
      skippedTags: 0,
      digests: 1,
      queued: 1,
    });
    expect(await images()).toEqual([
      {
        repository: key,
        image: 'team/app',
        tag: '1.0',
        platform: 'linux/amd64',
        digest: pushed.digest,
        tagDigest: pushed.digest,
        present: true,
        scanStatus: 'pending',
      },
    ]);
    const jobs = await ScanJobModel.find().lean();
    expect(jobs).toHaveLength(1);
    expect(jobs[0]).toMatchObject({
      digest: pushed.digest,
      repository: key,
      image: 'team/app',
      state: 'queued',
      attempts: 0,
    });
  });

  it('When a tag is an OCI index with two platforms, an attestation and an unknown/unknown entry, then only the configured platforms are stored', async () => {
    const amd = await pushImage(registry.url, 'multi/app', [], [layer('amd')]);
    const arm = await pushImage(registry.url, 'multi/app', [], [layer('arm')], {
      platform: { os: 'linux', architecture: 'arm64' },
    });
    const att = await pushImage(registry.url, 'multi/app', [], [layer('att')], {
      platform: { os: 'unknown', architecture: 'unknown' },
    });
    const att2 = await pushImage(registry.url, 'multi/app', [], [layer('att2')]);
    const size = (p: { manifest: object }) => Buffer.byteLength(JSON.stringify(p.manifest));
    const entry = (p: typeof amd, platform: object, annotations?: Record<string, string>) => ({
      mediaType: MT.ociManifest,
      digest: p.digest,
      size: size(p),
      platform,
      ...(annotations ? { annotations } : {}),
    });
    const index = {
      schemaVersion: 2,
      mediaType: MT.ociIndex,
      manifests: [
        entry(amd, { os: 'linux', architecture: 'amd64' }),
        entry(arm, { os: 'linux', architecture: 'arm64', variant: 'v8' }),
        // buildx's attestation: unknown/unknown with the reference annotation.
        entry(
          att,
          { os: 'unknown', architecture: 'unknown' },
          {
            'vnd.docker.reference.type': 'attestation-manifest',
            'vnd.docker.reference.digest': amd.digest,
          },
        ),
        // An attestation that claims a real platform is skipped by its annotation alone.
        entry(att2, { os: 'linux', architecture: 'amd64' }, { 'vnd.docker.reference.type': 'attestation-manifest' }),
      ],
    };
    const indexDigest = await pushManifest(registry.url, 'multi/app', 'latest', index, MT.ociIndex);

    const def = await setup();
    await def.discover();
    expect(await images()).toEqual([
      expect.objectContaining({ tag: 'latest', platform: 'linux/amd64', digest: amd.digest, tagDigest: indexDigest }),
    ]);
    expect(await ScanJobModel.countDocuments()).toBe(1);

    // A second app configured for two platforms, on an empty database.
    await Promise.all(
      ['images', 'scanjobs', 'registries'].map((c) => mongoose.connection.db!.collection(c).deleteMany({})),
    );
    const both = await setup({ SCAN_PLATFORMS: 'linux/amd64,linux/arm64' });
    await both.discover();
    expect((await images()).map((i) => [i.platform, i.digest])).toEqual([
      ['linux/amd64', amd.digest],
      ['linux/arm64/v8', arm.digest],
    ]);
    expect((await ScanJobModel.find().lean()).map((j) => j.digest).sort()).toEqual([amd.digest, arm.digest].sort());
  });

  it('When two tags share a digest, then both images are stored and one scan job is queued', async () => {
    const pushed = await pushImage(registry.url, 'shared/app', ['1', 'latest'], [layer('s')]);
    const { discover } = await setup();

    const result = await discover();

    expect(result).toMatchObject({ tags: 2, platformImages: 2, digests: 1, queued: 1 });
    expect((await images()).map((i) => [i.tag, i.digest])).toEqual([
      ['1', pushed.digest],
      ['latest', pushed.digest],
    ]);
    expect(await ScanJobModel.countDocuments({ digest: pushed.digest })).toBe(1);
  });

  it('When a tag vanished from the registry, then its image is kept with present false', async () => {
    await pushImage(registry.url, 'gone/app', ['keep'], [layer('keep')]);
    const drop = await pushImage(registry.url, 'gone/app', ['drop'], [layer('drop')]);
    const { discover } = await setup();
    await discover();
    // Deleting a manifest by digest removes the tags that point at it.
    const del = await fetch(`${registry.url}/v2/gone/app/manifests/${drop.digest}`, { method: 'DELETE' });
    expect(del.status).toBe(202);

    const result = await discover();

    expect(result!.vanished).toBe(1);
    expect((await images()).map((i) => [i.tag, i.present])).toEqual([
      ['drop', false],
      ['keep', true],
    ]);
  });

  it('When a tag now points at another digest, then it goes back to pending with its counts cleared and a new job', async () => {
    const first = await pushImage(registry.url, 'moving/app', ['latest'], [layer('v1')]);
    const { discover } = await setup();
    await discover();
    // As if the first digest had been scanned.
    await ImageModel.updateMany(
      {},
      { $set: { scanStatus: 'done', high: 3, packages: 12, score: 0.5, namespace: 'debian:12' } },
    );
    await ScanJobModel.updateMany({}, { $set: { state: 'done' } });
    const second = await pushImage(registry.url, 'moving/app', ['latest'], [layer('v2')]);

    const result = await discover();

    expect(result).toMatchObject({ digests: 1, queued: 1 });
    const [img] = await ImageModel.find().lean<ImageDoc[]>();
    expect(img).toMatchObject({
      digest: second.digest,
      scanStatus: 'pending',
      high: 0,
      packages: 0,
      score: null,
      namespace: null,
      present: true,
    });
    expect((await ScanJobModel.find().sort({ queuedAt: 1 }).lean()).map((j) => [j.digest, j.state])).toEqual([
      [first.digest, 'done'],
      [second.digest, 'queued'],
    ]);
  });

  it('When a tag is seen again with the same digest, then its scan results are kept', async () => {
    await pushImage(registry.url, 'same/app', ['1'], [layer('same')]);
    const { discover } = await setup();
    await discover();
    await ImageModel.updateMany({}, { $set: { scanStatus: 'done', high: 2, score: 0.25 } });
    await ScanJobModel.updateMany({}, { $set: { state: 'done' } });

    const result = await discover();

    expect(result).toMatchObject({ queued: 0 });
    expect(await ImageModel.findOne().lean()).toMatchObject({ scanStatus: 'done', high: 2, score: 0.25 });
  });

  it('When the registry holds more repositories and tags than one page, then every one is discovered', async () => {
    // The client asks for 100 per page; 101 tags and 101 repositories need a second page each.
    const base = await pushImage(registry.url, 'paged/tags', ['t0'], [layer('p')]);
    for (let i = 1; i <= 100; i++) {
      await pushManifest(registry.url, 'paged/tags', `t${i}`, base.manifest, MT.ociManifest);
    }
    for (let i = 0; i < 100; i++) await pushImage(registry.url, `paged/repo-${i}`, ['1'], [layer(`r${i}`)]);
    const { discover } = await setup();

    const result = await discover();

    expect(result).toMatchObject({ tags: 201, platformImages: 201, skippedTags: 0, digests: 101, queued: 101 });
    expect(await ImageModel.countDocuments({ image: 'paged/tags' })).toBe(101);
    expect((await ImageModel.distinct('image')).length).toBe(101);
  });

  it('When the registry cannot be reached, then POST /api/scanner/scan answers 5002 and writes nothing', async () => {
    const t = buildTestApp({ REGISTRY_TEST_TIMEOUT_MS: '2000', REGISTRY_TIMEOUT_MS: '2000' });
    const port = await freePort();
    const created = await request(t.app).post('/api/repository').send({ repository: '127.0.0.1', port });
    expect(created.body.data.isConnect).toBe(false);
    const before = await Promise.all(
      ['images', 'scanjobs', 'leases'].map((c) => mongoose.connection.db!.collection(c).countDocuments()),
    );

    const res = await request(t.app)
      .post('/api/scanner/scan')
      .send({ repository: `127.0.0.1:${port}` });
    await scannerFrom(t.deps).service.idle();

    expect(res.status).toBe(502);
    expect(res.body.code).toBe(5002);
    expect(res.body.data).toMatch(/connection refused/i);
    expect(
      await Promise.all(
        ['images', 'scanjobs', 'leases'].map((c) => mongoose.connection.db!.collection(c).countDocuments()),
      ),
    ).toEqual(before);
    expect(before).toEqual([0, 0, 0]);
  });

  it('When POST /api/scanner/scan names a reachable registry, then 202 comes back and the discovery runs in the background', async () => {
    const pushed = await pushImage(registry.url, 'bg/app', ['1'], [layer('bg')]);
    const { app, key, scanner } = await setup();

    const res = await request(app).post('/api/scanner/scan').send({ repository: key });
    await scanner.service.idle();

    expect(res.status).toBe(202);
    expect(res.body).toEqual({ code: 0, data: { repository: key, started: true }, message: 'ok' });
    expect(await ScanJobModel.countDocuments({ digest: pushed.digest, state: 'queued' })).toBe(1);
  });
});
