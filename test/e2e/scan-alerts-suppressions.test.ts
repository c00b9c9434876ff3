import { createHmac } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import { alertsFrom, DeliveryModel } from '../../src/modules/alerts';
import { ImageModel } from '../../src/modules/images';
import { scannerFrom } from '../../src/modules/scanner';
import { buildTestApp } from '../helpers/app';
import { debianLayer, pushImage } from '../helpers/oci-image';
import { startRegistry, type RegistryProcess } from '../helpers/registry-process';
import { useTestDb } from '../helpers/test-db';

useTestDb();

// The fixture gives these: CVE-2023-45853 Critical (zlib1g), CVE-2024-0727 High and CVE-2023-5678 Medium (libssl3).
const PACKAGES = [
  { name: 'libssl3', version: '3.0.11-1~deb12u2', source: 'openssl' },
  { name: 'zlib1g', version: '1:1.2.13.dfsg-1' },
];
const SECRET = 'e2e-alert-secret-0123456789abcdef';

describe('A real scan (registry + Clair v4) with alerts and suppressions', () => {
  let registry: RegistryProcess;
  let receiver: http.Server;
  let receiverUrl: string;
  const got: Array<{ headers: http.IncomingHttpHeaders; raw: Buffer }> = [];

  beforeAll(async () => {
    registry = await startRegistry();
    receiver = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        got.push({ headers: req.headers, raw: Buffer.concat(chunks) });
        res.end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/alerts`;
  });
  afterAll(async () => {
    await registry.stop();
    await new Promise<void>((r) => receiver.close(() => r()));
  });

  it('When a digest is first scanned, then a tag-scoped suppression lowers only that tag, and the alert (queued, not sent by the scan) lists the new CVEs signed', async () => {
    const { app, deps } = buildTestApp({
      CLAIR_URL: process.env.CLAIR_TEST_URL!,
      SCAN_WORKER: 'false',
      SCAN_REFRESH_INTERVAL_MS: '0',
      // A dead receiver next to the live one: the scan must not care.
      ALERT_WEBHOOK_URLS: `${receiverUrl},http://127.0.0.1:9/dead`,
      ALERT_MIN_LEVEL: 'high',
      ALERT_SECRET: SECRET,
    });
    const key = `127.0.0.1:${registry.port}`;
    await request(app).post('/api/repository').send({ repository: '127.0.0.1', port: registry.port }).expect(200);
    await request(app)
      .post('/api/suppressions')
      .send({
        cveId: 'CVE-2023-45853',
        scope: 'tag',
        repository: key,
        image: 'demo/debian',
        tag: 'stable',
        reason: 'zlib minizip is not used',
        author: 'e2e',
      })
      .expect(201);
    await pushImage(registry.url, 'demo/debian', ['12', 'stable'], [debianLayer(PACKAGES)]);

    const scanner = scannerFrom(deps);
    await request(app).post('/api/scanner/scan').send({ repository: key }).expect(202);
    await scanner.service.idle();
    await scanner.worker.drain(120_000);

    const byTag = Object.fromEntries((await ImageModel.find({ repository: key }).lean()).map((d) => [d.tag, d]));
    expect(byTag['12']).toMatchObject({ scanStatus: 'done', critical: 1, high: 1, medium: 1 });
    expect(byTag['stable']).toMatchObject({ scanStatus: 'done', critical: 0, high: 1, medium: 1 });
    expect(byTag['stable']!.score!).toBeLessThan(byTag['12']!.score!);
    const listed = await request(app)
      .post('/api/scanner/image')
      .send({ repository: key, image: 'demo/debian', tag: 'stable', sort: { field: 'level', order: 'desc' } });
    expect(listed.body.data.docs[0]).toMatchObject({ cveId: 'CVE-2023-45853', suppressed: true });

    // The scan only queued: nothing was sent yet, to either receiver.
    expect(got).toHaveLength(0);
    expect(await DeliveryModel.countDocuments({ state: 'pending' })).toBe(2);
    const alerts = alertsFrom(deps);
    while (await alerts.worker.runOnce());
    expect(got).toHaveLength(1);
    const { headers, raw } = got[0]!;
    expect(headers['x-vulnscan-signature']).toBe(`sha256=${createHmac('sha256', SECRET).update(raw).digest('hex')}`);
    const body = JSON.parse(raw.toString());
    expect(body.vulnerabilities.map((v: { cveId: string }) => v.cveId)).toEqual(['CVE-2023-45853', 'CVE-2024-0727']);
    expect(body.images.map((i: { tag: string }) => i.tag).sort()).toEqual(['12', 'stable']);

    // Re-reading the same report finds nothing new: no further alert.
    await scanner.refresher.tick(true);
    expect(await DeliveryModel.countDocuments()).toBe(2);
  });
});
