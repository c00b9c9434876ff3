import request from 'supertest';
import { RegistryModel } from '../../src/modules/registries';
import { WebhookModel } from '../../src/modules/alerts/alerts.model';
import { buildTestApp } from '../helpers/app';
import { type FakeHttpServer, sendJson, startFakeHttpServer } from '../helpers/fakes/fake-http-server';
import { useTestDb } from '../helpers/test-db';

useTestDb();

/** The egress policy where a person enters a target (5003) and where a stored one is used (5002). */

describe('egress policy at the API', () => {
  let registry: FakeHttpServer;
  beforeEach(async () => {
    registry = await startFakeHttpServer((_req, res) =>
      sendJson(res, 200, {}, { 'Docker-Distribution-API-Version': 'registry/2.0' }),
    );
  });
  afterEach(async () => {
    await registry.close();
  });

  it('When a registry on the cloud metadata address is created, then 5003 names the field and the rule and nothing is stored', async () => {
    const { app } = buildTestApp();

    const res = await request(app).post('/api/repository').send({ repository: '169.254.169.254', port: 80 });

    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({
      code: 5003,
      data: 'body.repository: 169.254.169.254 is denied by EGRESS_DENY 169.254.0.0/16',
    });
    expect(await RegistryModel.countDocuments()).toBe(0);
  });

  it('When a vendor apiUrl or an update points at a denied range, then 5003 names that field', async () => {
    const { app } = buildTestApp({ EGRESS_DENY: '169.254.0.0/16,fe80::/10,10.99.0.0/16' });
    const created = await request(app).post('/api/repository').send({ repository: '127.0.0.1', port: registry.port });

    const apiUrl = await request(app)
      .post('/api/repository')
      .send({ repository: '127.0.0.1', port: 1, kind: 'harbor', options: { apiUrl: 'http://[fe80::1]:8080' } });
    const moved = await request(app)
      .put('/api/repository')
      .send({ _id: created.body.data._id, repository: '10.99.1.2' });

    expect(created.body.code).toBe(0);
    expect(apiUrl.status).toBe(400);
    expect(apiUrl.body.data).toBe('body.options.apiUrl: fe80::1 is denied by EGRESS_DENY fe80::/10');
    expect(moved.status).toBe(400);
    expect(moved.body.data).toBe('body.repository: 10.99.1.2 is denied by EGRESS_DENY 10.99.0.0/16');
    expect((await RegistryModel.findOne().lean())!.repository).toBe('127.0.0.1');
  });

  it('When EGRESS_ALLOW is set, then a registry outside it is refused and one inside is created', async () => {
    const { app } = buildTestApp({ EGRESS_ALLOW: '127.0.0.0/8' });

    const outside = await request(app).post('/api/repository').send({ repository: '192.168.10.118', port: 5000 });
    const inside = await request(app).post('/api/repository').send({ repository: 'localhost', port: registry.port });

    expect(outside.body).toMatchObject({
      code: 5003,
      data: 'body.repository: 192.168.10.118 is not in EGRESS_ALLOW 127.0.0.0/8',
    });
    expect(inside.body.code).toBe(0);
    expect(inside.body.data.isConnect).toBe(true);
  });

  it('When an alert receiver URL is on a denied address, then 5003 names body.url and nothing is stored', async () => {
    const { app } = buildTestApp();

    const res = await request(app).post('/api/alerts/webhooks').send({ url: 'http://[::ffff:169.254.169.254]/hook' });

    expect(res.status).toBe(400);
    expect(res.body.data).toMatch(/^body\.url: .* is denied by EGRESS_DENY 169\.254\.0\.0\/16$/);
    expect(await WebhookModel.countDocuments()).toBe(0);
  });

  it('When a stored registry is denied by the policy in force at scan time, then the scan request is 5002 naming the rule', async () => {
    const before = buildTestApp();
    await request(before.app).post('/api/repository').send({ repository: 'localhost', port: registry.port });
    // Restarted with loopback denied: the stored registry is now out of bounds.
    const { app } = buildTestApp({ EGRESS_DENY: '127.0.0.0/8,::1/128' });
    const seen = registry.requests.length;

    const scan = await request(app)
      .post('/api/scanner/scan')
      .send({ repository: `localhost:${registry.port}` });
    const test = await request(app).put(`/api/repository?repository=localhost:${registry.port}`);

    expect(scan.status).toBe(502);
    expect(scan.body.code).toBe(5002);
    expect(scan.body.data).toMatch(/localhost: (127\.0\.0\.1|::1) is denied by EGRESS_DENY (127\.0\.0\.0\/8|::1\/128)/);
    expect(test.status).toBe(400);
    expect(test.body.data).toMatch(
      /^query\.repository \(host of localhost:\d+\): localhost: .* is denied by EGRESS_DENY/,
    );
    expect(registry.requests.length).toBe(seen);
  });
});
