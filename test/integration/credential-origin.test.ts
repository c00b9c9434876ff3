import mongoose from 'mongoose';
import request from 'supertest';
import { createRegistryClient } from '../../src/clients/registry/registry.client';
import type { RegistryTarget } from '../../src/clients/registry/registry.types';
import { RegistryError } from '../../src/errors/app-error';
import { createLogger } from '../../src/logger';
import { buildTestApp, LogCapture } from '../helpers/app';
import { startFakeHttp, type FakeHttp, type FakeReply, type RecordedRequest } from '../helpers/fake-http';
import { useTestDb } from '../helpers/test-db';

useTestDb();

/**
 * A stored secret stays with the origin it was entered for. `home` plays the registry (or vendor API,
 * or alert receiver) the secret was entered for; `elsewhere` is a second server that anyone who may
 * edit a registry could point it at. It answers every request with a Basic challenge, the bait that
 * made the old code send the stored password, and records what it received.
 */
const PASSWORD = 'origin-b0und-Passw0rd';
const USER = 'alice';
const basicOf = (p: string) => `Basic ${Buffer.from(`${USER}:${p}`).toString('base64')}`;

let home: FakeHttp;
let elsewhere: FakeHttp;
const portOf = (f: FakeHttp) => Number(new URL(f.url).port);

/** Answers /v2/ like a Basic-auth registry accepting `password`. */
function registryHandler(password: string) {
  return (req: RecordedRequest): FakeReply =>
    req.headers.authorization === basicOf(password)
      ? { status: 200, body: {}, headers: { 'docker-distribution-api-version': 'registry/2.0' } }
      : { status: 401, body: {}, headers: { 'www-authenticate': 'Basic realm="registry"' } };
}

/** Every credential-bearing header `f` received. */
function credentialsSeen(f: FakeHttp): string[] {
  return f.requests.flatMap((r) =>
    ['authorization', 'x-auth-token', 'x-vulnscan-signature']
      .map((h) => r.headers[h])
      .filter((v): v is string => typeof v === 'string'),
  );
}

beforeAll(async () => {
  [home, elsewhere] = await Promise.all([startFakeHttp(), startFakeHttp()]);
});
afterAll(async () => {
  await Promise.all([home?.close(), elsewhere?.close()]);
});
beforeEach(() => {
  home.requests.length = 0;
  elsewhere.requests.length = 0;
  home.handle(registryHandler(PASSWORD));
  elsewhere.handle(() => ({ status: 401, body: {}, headers: { 'www-authenticate': 'Basic realm="bait"' } }));
});

function app() {
  return buildTestApp({ REGISTRY_TEST_TIMEOUT_MS: '3000' });
}

async function createBasic(a: ReturnType<typeof app>['app'], extra: Record<string, unknown> = {}) {
  const res = await request(a)
    .post('/api/repository')
    .send({ repository: '127.0.0.1', port: portOf(home), isAuth: true, username: USER, passwd: PASSWORD, ...extra });
  expect(res.body.code).toBe(0);
  return res.body.data as { _id: string; key: string };
}

const stored = () => mongoose.connection.db!.collection('registries').findOne({});

describe('registry password bound to its origin', () => {
  it('When the port changes without passwd, then 5003 names passwd and both origins, nothing is stored and the other server gets nothing', async () => {
    const { app: a } = app();
    const created = await createBasic(a);
    const before = await stored();

    const res = await request(a)
      .put('/api/repository')
      .send({ _id: created._id, port: portOf(elsewhere) });

    expect(res.status).toBe(400);
    expect(res.body.code).toBe(5003);
    expect(res.body.data).toBe(
      `body.passwd: the registry's origin changed (http://127.0.0.1:${portOf(home)} → http://127.0.0.1:${portOf(elsewhere)}); send the password again`,
    );
    expect(elsewhere.requests).toHaveLength(0);
    expect(await stored()).toEqual(before);
  });

  it('When the host changes without passwd, then 5003 as well', async () => {
    const { app: a } = app();
    const created = await createBasic(a);
    const res = await request(a).put('/api/repository').send({ _id: created._id, repository: 'localhost' });
    expect(res.body.code).toBe(5003);
    expect(res.body.data).toMatch(/^body\.passwd: the registry's origin changed .*→ http:\/\/localhost:/);
  });

  it('When the new origin comes with the password again, then the update is made and only the new password is sent there', async () => {
    const { app: a } = app();
    const created = await createBasic(a);
    elsewhere.handle(registryHandler('the-new-one'));

    const res = await request(a)
      .put('/api/repository')
      .send({ _id: created._id, port: portOf(elsewhere), passwd: 'the-new-one' });

    expect(res.body.code).toBe(0);
    expect(res.body.data).toMatchObject({ key: `127.0.0.1:${portOf(elsewhere)}`, isConnect: true });
    expect(credentialsSeen(elsewhere)).toEqual([basicOf('the-new-one')]);
  });

  it('When isHttps goes from true to false without passwd, then 5003: the password would travel in clear text', async () => {
    const { app: a } = app();
    const created = await createBasic(a, { isHttps: true });
    home.requests.length = 0;

    const res = await request(a).put('/api/repository').send({ _id: created._id, isHttps: false });

    expect(res.body.code).toBe(5003);
    expect(res.body.data).toContain(`(https://127.0.0.1:${portOf(home)} → http://127.0.0.1:${portOf(home)})`);
    expect(credentialsSeen(home)).toEqual([]);
    expect((await stored())!.isHttps).toBe(true);
  });

  it('When skipTlsVerify is turned on without passwd, then 5003: the certificate no longer proves where it goes', async () => {
    const { app: a } = app();
    const created = await createBasic(a, { isHttps: true });
    const res = await request(a).put('/api/repository').send({ _id: created._id, skipTlsVerify: true });
    expect(res.body.code).toBe(5003);
    expect(res.body.data).toContain('(TLS unverified)');
  });

  it('When auth is turned off and the registry moves, then the unused password is dropped, not carried along', async () => {
    const { app: a } = app();
    const created = await createBasic(a);

    const res = await request(a)
      .put('/api/repository')
      .send({ _id: created._id, port: portOf(elsewhere), isAuth: false });

    expect(res.body.code).toBe(0);
    expect(res.body.data).toMatchObject({ passwd: '', isAuth: false });
    expect((await stored())!.passwdEnc).toBe('');
    expect(credentialsSeen(elsewhere)).toEqual([]);
  });

  it('When only the alias changes, then the password is kept without being sent again', async () => {
    const { app: a } = app();
    const created = await createBasic(a);
    const res = await request(a).put('/api/repository').send({ _id: created._id, name: 'renamed', passwd: '******' });
    expect(res.body.code).toBe(0);
    expect(res.body.data.passwd).toBe('******');
  });

  it('When a Harbor registry gets another options.apiUrl without passwd, then 5003: the vendor API gets the credentials up front', async () => {
    const { app: a } = app();
    const created = await createBasic(a, { kind: 'harbor', options: { apiUrl: home.url } });

    const res = await request(a)
      .put('/api/repository')
      .send({ _id: created._id, options: { apiUrl: elsewhere.url } });

    expect(res.body.code).toBe(5003);
    expect(res.body.data).toContain(`→ http://127.0.0.1:${portOf(home)} + http://127.0.0.1:${portOf(elsewhere)})`);
    expect(elsewhere.requests).toHaveLength(0);
  });

  it('When an SWR registry gets another apiUrl with its token masked, then 5003 names options.token; with the token sent, it is accepted', async () => {
    const { app: a } = app();
    home.handle(() => ({ status: 200, body: {}, headers: { 'docker-distribution-api-version': 'registry/2.0' } }));
    const created = await request(a)
      .post('/api/repository')
      .send({
        repository: '127.0.0.1',
        port: portOf(home),
        kind: 'swr',
        options: { apiUrl: home.url, namespace: 'team', token: 'swr-iam-t0ken-secret' },
      });
    expect(created.body.code).toBe(0);

    const moved = { apiUrl: elsewhere.url, namespace: 'team' };
    const refused = await request(a)
      .put('/api/repository')
      .send({ _id: created.body.data._id, options: { ...moved, token: '******' } });
    expect(refused.body.code).toBe(5003);
    expect(refused.body.data).toBe(
      `body.options.token: the SWR API origin changed (http://127.0.0.1:${portOf(home)} → http://127.0.0.1:${portOf(elsewhere)}); send the token again`,
    );

    const accepted = await request(a)
      .put('/api/repository')
      .send({ _id: created.body.data._id, options: { ...moved, token: 'another-t0ken' } });
    expect(accepted.body.code).toBe(0);
    expect(accepted.body.data.options).toMatchObject({ apiUrl: elsewhere.url, token: '******' });
  });
});

describe('alert receiver secret bound to its origin', () => {
  const SECRET = 'receiver-hmac-secret-0123456789';

  it('When the URL moves to another origin without the secret, then 5003 names secret; the same origin, a new secret or "" is accepted', async () => {
    const { app: a } = app();
    const created = await request(a)
      .post('/api/alerts/webhooks')
      .send({ url: `${home.url}/hook`, secret: SECRET });
    expect(created.body.code).toBe(0);
    const id = created.body.data._id as string;

    const refused = await request(a)
      .put(`/api/alerts/webhooks/${id}`)
      .send({ url: `${elsewhere.url}/hook`, secret: '******' });
    expect(refused.status).toBe(400);
    expect(refused.body.data).toBe(
      `body.secret: the receiver's origin changed (http://127.0.0.1:${portOf(home)} → http://127.0.0.1:${portOf(elsewhere)}); send the secret again, or "" to send unsigned`,
    );
    expect((await request(a).get(`/api/alerts/webhooks/${id}`)).body.data.url).toBe(`${home.url}/hook`);

    const samePlace = await request(a)
      .put(`/api/alerts/webhooks/${id}`)
      .send({ url: `${home.url}/other-path` });
    expect(samePlace.body.code).toBe(0);
    const resent = await request(a)
      .put(`/api/alerts/webhooks/${id}`)
      .send({ url: `${elsewhere.url}/hook`, secret: 'a-brand-new-secret-for-it' });
    expect(resent.body.code).toBe(0);
    const unsigned = await request(a)
      .put(`/api/alerts/webhooks/${id}`)
      .send({ url: `${home.url}/x`, secret: '' });
    expect(unsigned.body).toMatchObject({ code: 0, data: { secret: '' } });
  });
});

describe('registry client: where credentials may go', () => {
  const logs = new LogCapture();
  const ctx = { log: createLogger('debug', logs) };
  const target = (): RegistryTarget => ({
    host: '127.0.0.1',
    port: portOf(home),
    isHttps: false,
    credentials: { username: USER, password: PASSWORD },
  });

  it('When the registry names a token realm on another host over http, then 5002 names it and the realm gets nothing', async () => {
    const realm = `http://localhost:${portOf(elsewhere)}/token`;
    home.handle(() => ({
      status: 401,
      body: {},
      headers: { 'www-authenticate': `Bearer realm="${realm}",service="registry"` },
    }));

    const err = await createRegistryClient(target(), { timeoutMs: 3000 })
      .ping(ctx)
      .catch((e: unknown) => e);

    expect(err).toBeInstanceOf(RegistryError);
    expect((err as RegistryError).message).toBe(
      `registry 127.0.0.1:${portOf(home)}: its token realm http://localhost:${portOf(elsewhere)} is neither https nor on the registry's own host and scheme; the credentials are not sent there`,
    );
    expect(elsewhere.requests).toHaveLength(0);
  });

  it('When a paging Link points to another origin, then 5002 names it and it is not followed; a same-origin absolute Link is', async () => {
    const port = portOf(home);
    home.handle((req): FakeReply => {
      if (req.headers.authorization !== basicOf(PASSWORD))
        return { status: 401, body: {}, headers: { 'www-authenticate': 'Basic realm="registry"' } };
      if (req.url.startsWith('/v2/_catalog?n=100'))
        return {
          status: 200,
          body: { repositories: ['a'] },
          headers: { link: `<http://127.0.0.1:${port}/v2/_catalog?last=a&n=100>; rel="next"` },
        };
      if (req.url.startsWith('/v2/_catalog?last=a'))
        return {
          status: 200,
          body: { repositories: ['b'] },
          headers: { link: `<http://localhost:${portOf(elsewhere)}/v2/_catalog?last=b&n=100>; rel="next"` },
        };
      return { status: 200, body: {}, headers: { 'docker-distribution-api-version': 'registry/2.0' } };
    });
    const got: string[] = [];

    const err = await (async () => {
      for await (const r of createRegistryClient(target(), { timeoutMs: 3000 }).listRepositories(ctx)) got.push(r);
    })().catch((e: unknown) => e);

    expect(got).toEqual(['a', 'b']);
    expect(err).toBeInstanceOf(RegistryError);
    expect((err as RegistryError).code).toBe(5002);
    expect((err as RegistryError).message).toBe(
      `registry 127.0.0.1:${port}: the catalog paging link points to another origin (http://localhost:${portOf(elsewhere)}); not followed`,
    );
    expect(elsewhere.requests).toHaveLength(0);
  });
});
