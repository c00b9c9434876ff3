import request from 'supertest';
import { ScanJobModel, scannerFrom } from '../../src/modules/scanner';
import { buildTestApp } from '../helpers/app';
import { buildLayer, pushImage } from '../helpers/oci-image';
import { freePort, startRegistry, type RegistryProcess } from '../helpers/registry-process';
import { useTestDb } from '../helpers/test-db';

useTestDb();

let registry: RegistryProcess;
beforeAll(async () => {
  registry = await startRegistry();
});
afterAll(async () => {
  await registry?.stop();
});

describe('Scan worker wake-up', () => {
  it('When a discovery queues a job while the loops sleep a long poll, then a loop claims it without waiting out the poll', async () => {
    await pushImage(registry.url, 'wake/app', ['1'], [buildLayer({ 'etc/hostname': 'w\n' })]);
    // Clair is unreachable: the claimed job fails its attempt and is queued again with attempts 1.
    const t = buildTestApp({
      SCAN_POLL_MS: '60000',
      SCAN_RETRY_BASE_MS: '3600000',
      CLAIR_URL: `http://127.0.0.1:${await freePort()}`,
    });
    const created = await request(t.app).post('/api/repository').send({ repository: '127.0.0.1', port: registry.port });
    const key = created.body.data.key as string;
    const scanner = scannerFrom(t.deps);
    await scanner.service.idle();
    await ScanJobModel.deleteMany({});
    scanner.worker.start();
    try {
      // Let every loop find nothing and go to sleep for its 60 s poll.
      await new Promise((r) => setTimeout(r, 500));

      await scanner.service.discover({ repository: key }, { log: t.logger });

      const until = Date.now() + 20_000;
      let job = await ScanJobModel.findOne().lean();
      while ((job?.attempts ?? 0) < 1 && Date.now() < until) {
        await new Promise((r) => setTimeout(r, 100));
        job = await ScanJobModel.findOne().lean();
      }
      expect(job?.attempts).toBe(1);
    } finally {
      await scanner.worker.stop(2000);
    }
  });
});
