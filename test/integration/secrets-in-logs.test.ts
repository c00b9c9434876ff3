import { randomUUID } from 'node:crypto';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import type { Ctx } from '../../src/http/context';
import { scannerFrom } from '../../src/modules/scanner';
import { buildTestApp } from '../helpers/app';
import { startFakeHttp, type FakeHttp, type FakeReply, type RecordedRequest } from '../helpers/fake-http';
import { freePort } from '../helpers/registry-process';
import { useTestDb } from '../helpers/test-db';
import { makeSelfSignedCert } from '../helpers/token-server';

useTestDb();

/**
 * Every failing outbound path of registry create, connection test and discovery, with a password
 * and a bearer token unique to this run, at LOG_LEVEL=trace: the whole captured log must hold
 * neither, nor the Basic encoding. Before errors were made safe, the AxiosError kept as a cause
 * reached the error log with `config.headers.Authorization`.
 */
const USER = 'logcheck';
const PASSWORD = `pw-${randomUUID()}`;
const BASIC = Buffer.from(`${USER}:${PASSWORD}`).toString('base64');
const TOKEN = `tok-${randomUUID()}`;
const TIMEOUT_MS = 800;

type Mode = 'basic401' | 'basic500' | 'bearer401' | 'bearer500' | 'timeoutAfterAuth';

/** A registry (and its own token realm) failing in `mode`, always after the credentials were sent. */
function failingRegistry(mode: Mode, self: () => string) {
  return (req: RecordedRequest): FakeReply => {
    const auth = req.headers.authorization ?? '';
    if (req.url.startsWith('/token'))
      return auth === `Basic ${BASIC}` ? { status: 200, body: { token: TOKEN, expires_in: 300 } } : { status: 401 };
    const bearer = mode.startsWith('bearer');
    const challenge = bearer
      ? { 'www-authenticate': `Bearer realm="${self()}/token",service="reg"` }
      : { 'www-authenticate': 'Basic realm="reg"' };
    if (bearer && auth === `Bearer ${TOKEN}` && mode === 'bearer500') return { status: 500, body: { errors: [] } };
    if (!bearer && auth === `Basic ${BASIC}`) {
      if (mode === 'basic500') return { status: 500, body: 'boom' };
      if (mode === 'timeoutAfterAuth') return { status: 200, delayMs: 60_000 };
    }
    return { status: 401, body: {}, headers: challenge };
  };
}

const fakes: FakeHttp[] = [];
let tls: HttpsServer;
let tlsPort: number;
let closedPort: number;

beforeAll(async () => {
  const cert = makeSelfSignedCert();
  tls = createHttpsServer({ cert: cert.certPem, key: cert.keyPem }, (_req, res) => res.writeHead(200).end('{}'));
  await new Promise<void>((r) => tls.listen(0, '127.0.0.1', r));
  tlsPort = (tls.address() as AddressInfo).port;
  closedPort = await freePort();
});
afterAll(async () => {
  await Promise.all(fakes.map((f) => f.close()));
  await new Promise<void>((r) => {
    tls.closeAllConnections();
    tls.close(() => r());
  });
});

async function fake(mode: Mode): Promise<FakeHttp> {
  const f = await startFakeHttp();
  f.handle(failingRegistry(mode, () => f.url));
  fakes.push(f);
  return f;
}

it('When registry create, test and discovery fail in every way, then the log holds no password, Basic encoding or bearer token', async () => {
  const t = buildTestApp({
    LOG_LEVEL: 'trace',
    REGISTRY_TIMEOUT_MS: String(TIMEOUT_MS),
    REGISTRY_TEST_TIMEOUT_MS: String(TIMEOUT_MS),
  });
  const ctx: Ctx = { log: t.logger };
  const portOf = (f: FakeHttp) => Number(new URL(f.url).port);
  const targets: Array<{ port: number; isHttps?: boolean; kind?: string; options?: Record<string, unknown> }> = [
    { port: closedPort },
    { port: tlsPort, isHttps: true },
    ...(
      await Promise.all((['basic401', 'basic500', 'bearer401', 'bearer500', 'timeoutAfterAuth'] as const).map(fake))
    ).map((f) => ({ port: portOf(f) })),
  ];
  // A Harbor lister whose API answers 401 after receiving the credentials, and one whose API refuses connections.
  const harborApi = await fake('basic401');
  const harborRegistry = await fake('basic500');
  targets.push({ port: portOf(harborRegistry), kind: 'harbor', options: { apiUrl: harborApi.url } });
  const harborRefused = await fake('basic500');
  targets.push({ port: portOf(harborRefused), kind: 'harbor', options: { apiUrl: `http://127.0.0.1:${closedPort}` } });

  const errors: string[] = [];
  for (const target of targets) {
    const created = await request(t.app)
      .post('/api/repository')
      .send({ repository: '127.0.0.1', isAuth: true, username: USER, passwd: PASSWORD, ...target });
    expect(created.body.code).toBe(0);
    const key = created.body.data.key as string;
    errors.push(String(created.body.data.connectError));
    const tested = await request(t.app).put('/api/repository').query({ repository: key });
    expect(tested.body.data.isConnect).toBe(false);
    const scan = await request(t.app).post('/api/scanner/scan').send({ repository: key });
    expect(scan.body.code).toBe(5002);
    // What a scheduled discovery does on failure: log the error object.
    await scannerFrom(t.deps)
      .service.discover({ repository: key }, ctx)
      .catch((err: unknown) => t.logger.error({ err, registry: key }, 'discovery failed'));
  }

  // Every path was taken for real.
  const all = errors.join('\n');
  expect(all).toMatch(/connection refused/);
  expect(all).toMatch(/TLS handshake failed/);
  expect(all).toMatch(/refused the credentials of user "logcheck"/);
  expect(all).toMatch(/HTTP 500/);
  expect(all).toMatch(/token for .* was refused/);
  expect(all).toMatch(/within 800 ms \(timeout\)/);
  expect(t.logs.text).toMatch(/Harbor refused the credentials/);
  expect(t.logs.text).toMatch(/Harbor refused the connection/);
  // The credentials did go out (so they could have been logged) ...
  const sent = fakes.flatMap((f) => f.requests.map((r) => r.headers.authorization));
  expect(sent).toContain(`Basic ${BASIC}`);
  expect(sent).toContain(`Bearer ${TOKEN}`);
  // ... and no log line holds them.
  expect(t.logs.lines.length).toBeGreaterThan(50);
  expect(t.logs.text).not.toContain(PASSWORD);
  expect(t.logs.text).not.toContain(BASIC);
  expect(t.logs.text).not.toContain(TOKEN);
});
