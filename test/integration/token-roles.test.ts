import mongoose from 'mongoose';
import request from 'supertest';
import { loadConfig } from '../../src/config';
import { isLoopbackHost, isReadRequest, tokenId } from '../../src/http/middleware/auth';
import { buildTestApp } from '../helpers/app';
import { freePort } from '../helpers/registry-process';
import { useTestDb } from '../helpers/test-db';

useTestDb();

const FULL = 'full-rights-token-0123456789abcdef';
const READ = 'read-only-token-0123456789abcdef';

function rolesApp() {
  return buildTestApp({ API_TOKENS: FULL, API_READ_TOKENS: READ });
}
const bearer = (t: string) => ({ Authorization: `Bearer ${t}` });

describe('read-only tokens (API_READ_TOKENS)', () => {
  it.each([
    ['GET', '/api/score', undefined],
    ['GET', '/api/repository', undefined],
    ['POST', '/api/scanner', {}],
    ['POST', '/api/vulnerabilities', {}],
    ['GET', '/api/alerts/webhooks', undefined],
  ] as const)('When a read token does %s %s, then it is answered', async (method, path, body) => {
    const { app } = rolesApp();
    const req = method === 'GET' ? request(app).get(path) : request(app).post(path).send(body);
    const res = await req.set(bearer(READ));
    expect(res.status).toBe(200);
    expect(res.body.code).toBe(0);
  });

  it('When a read token asks for the findings of an image (POST /api/scanner/image), then it is not refused for its role', async () => {
    const { app } = rolesApp();
    const res = await request(app).post('/api/scanner/image').set(bearer(READ)).send({});
    expect(res.status).not.toBe(403);
    expect(res.body.code).not.toBe(5007);
  });

  it.each([
    ['PUT', '/api/score', { low: 7 }],
    ['POST', '/api/repository', { repository: '127.0.0.1', port: 5999 }],
    ['PUT', '/api/repository', { repository: '127.0.0.1', port: 5999, name: 'x' }],
    ['DELETE', '/api/repository?repository=127.0.0.1:5999', undefined],
    ['POST', '/api/scanner/scan', {}],
    ['POST', '/API/Scanner/Scan', {}],
    ['POST', '/api/scanner/image/../scan', {}],
    ['POST', '/api/suppressions', {}],
    ['POST', '/api/alerts/webhooks', { url: 'http://127.0.0.1:9/hook' }],
    ['PUT', '/api/scanner/schedule', {}],
  ] as const)('When a read token does %s %s, then 5007/403 says the token is read-only', async (method, path, body) => {
    const { app } = rolesApp();
    const verb = method.toLowerCase() as 'put' | 'post' | 'delete';
    const res = await request(app)[verb](path).set(bearer(READ)).send(body);
    expect(res.status).toBe(403);
    expect(res.body).toEqual({
      code: 5007,
      message: 'authException',
      data: expect.stringMatching(/^this token is read-only \(API_READ_TOKENS\): .* needs a token from API_TOKENS$/),
    });
    expect(res.headers['www-authenticate']).toBe('Bearer realm="vulnscan", error="insufficient_scope"');
  });

  it('When a read token tries to write, then nothing is stored; the full token writes', async () => {
    const { app } = rolesApp();
    await request(app).post('/api/repository').set(bearer(READ)).send({ repository: '127.0.0.1', port: 5999 });
    await request(app).put('/api/score').set(bearer(READ)).send({ low: 7 });
    expect(await mongoose.connection.db!.collection('registries').countDocuments()).toBe(0);
    expect((await request(app).get('/api/score').set(bearer(READ))).body.data.low).toBe(3);

    const res = await request(app).put('/api/score').set(bearer(FULL)).send({ low: 7 });
    expect(res.status).toBe(200);
    expect((await request(app).get('/api/score').set(bearer(READ))).body.data.low).toBe(7);
  });

  it('When tokens are used, then the log names them by a short hash only', async () => {
    const { app, logs } = rolesApp();
    const port = await freePort();
    await request(app).post('/api/repository').set(bearer(FULL)).send({ repository: '127.0.0.1', port });
    await request(app).put('/api/score').set(bearer(READ)).send({ low: 7 });

    const created = logs.records().find((r) => r.msg === 'registry created');
    expect(created).toMatchObject({ tokenId: tokenId(FULL), role: 'full' });
    expect(tokenId(FULL)).toMatch(/^[0-9a-f]{8}$/);
    const startup = logs.records().find((r) => r.msg === 'API tokens configured');
    expect(startup).toMatchObject({ full: [tokenId(FULL)], read: [tokenId(READ)] });
    expect(logs.text).not.toContain(FULL);
    expect(logs.text).not.toContain(READ);
  });

  it('When the same token is in API_TOKENS and API_READ_TOKENS, then the configuration is refused', () => {
    expect(() => loadConfig({ API_TOKENS: FULL, API_READ_TOKENS: `${READ},${FULL}` })).toThrow(
      /API_READ_TOKENS: a token is also in API_TOKENS/,
    );
  });
});

describe('open API warning', () => {
  const openWarnings = (logs: { records(): Array<Record<string, unknown>> }) =>
    logs.records().filter((r) => r.level === 40 && String(r.msg).includes('API_TOKENS is empty'));

  it.each(['0.0.0.0', '::', '192.168.10.5'])(
    'When HOST=%s (not loopback) and no token is configured, then one warning line says the API is open',
    (host) => {
      const { logs } = buildTestApp({ HOST: host });
      const warnings = openWarnings(logs);
      expect(warnings).toHaveLength(1);
      expect(warnings[0]!.msg).toContain(`HOST=${host} is not a loopback address`);
    },
  );

  it.each(['127.0.0.1', '::1', 'localhost'])('When HOST=%s (loopback) and no token, then no warning', (host) => {
    expect(openWarnings(buildTestApp({ HOST: host }).logs)).toHaveLength(0);
  });

  it('When only read tokens are configured, then no open-API warning and /api needs a token', async () => {
    const { app, logs } = buildTestApp({ API_READ_TOKENS: READ });
    expect(openWarnings(logs)).toHaveLength(0);
    expect((await request(app).get('/api/score')).status).toBe(401);
  });
});

describe('isReadRequest and isLoopbackHost', () => {
  it.each([
    ['GET', '/repository', true],
    ['HEAD', '/score', true],
    ['POST', '/scanner/', true],
    ['POST', '/Vulnerabilities', true],
    ['POST', '/scanner/scan', false],
    ['POST', '/repository', false],
    ['PUT', '/scanner', false],
    ['DELETE', '/repository', false],
    ['PATCH', '/score', false],
  ])('When %s %s, then read: %s', (method, path, expected) => {
    expect(isReadRequest(method, path)).toBe(expected);
  });

  it.each([
    ['127.0.0.1', true],
    ['127.1.2.3', true],
    ['[::1]', true],
    ['::ffff:127.0.0.1', true],
    ['0.0.0.0', false],
    ['10.0.0.1', false],
    ['example.com', false],
  ])('When HOST is %s, then loopback: %s', (host, expected) => {
    expect(isLoopbackHost(host)).toBe(expected);
  });
});
