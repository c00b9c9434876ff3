import mongoose from 'mongoose';
import request from 'supertest';
import { ImageModel } from '../../src/modules/images';
import { buildImage, insertImages } from '../factories/image.factory';
import { buildTestApp } from '../helpers/app';
import { freePort, startRegistry, type RegistryProcess } from '../helpers/registry-process';
import { useTestDb } from '../helpers/test-db';
import { startTokenServer, type TokenServer } from '../helpers/token-server';

useTestDb();

const SECRET = 'S3cr3t-p4ss-never-shown';

let open: RegistryProcess;
let basic: RegistryProcess;
let tokenReg: RegistryProcess;
let tokens: TokenServer;
let closedPort: number;

beforeAll(async () => {
  tokens = await startTokenServer({ username: 'alice', password: SECRET });
  [open, basic, tokenReg, closedPort] = await Promise.all([
    startRegistry(),
    startRegistry({ htpasswd: { username: 'alice', password: SECRET } }),
    startRegistry({
      token: {
        realm: tokens.realm,
        service: tokens.service,
        issuer: tokens.issuer,
        rootCertBundle: tokens.rootCertBundle,
      },
    }),
    freePort(),
  ]);
});
afterAll(async () => {
  await Promise.all([open?.stop(), basic?.stop(), tokenReg?.stop(), tokens?.stop()]);
});

function app(env: Record<string, string> = {}) {
  return buildTestApp({ REGISTRY_TEST_TIMEOUT_MS: '3000', ...env });
}

describe('POST /api/repository', () => {
  it('When an open registry is added, then it is stored, tested (isConnect true) and shown with its key', async () => {
    const { app: a } = app();
    const res = await request(a)
      .post('/api/repository')
      .send({ repository: '127.0.0.1', port: open.port, name: 'open' });
    expect(res.status).toBe(200);
    expect(res.body.code).toBe(0);
    expect(res.body.data).toMatchObject({
      repository: '127.0.0.1',
      port: open.port,
      key: `127.0.0.1:${open.port}`,
      name: 'open',
      username: '',
      passwd: '',
      isHttps: false,
      isAuth: false,
      isConnect: true,
      connectError: null,
      kind: 'registry',
      options: {},
      skipTlsVerify: false,
    });
    expect(res.body.data._id).toMatch(/^[0-9a-f]{24}$/);
    expect(res.body.data.lastTestedAt).toEqual(expect.any(String));
    const list = await request(a).get('/api/repository');
    expect(list.body.data).toHaveLength(1);
    expect(list.body.data[0].isConnect).toBe(true);
  });

  it('When the registry cannot be reached, then it is created anyway with isConnect false and the reason', async () => {
    const { app: a } = app();
    const res = await request(a).post('/api/repository').send({ repository: '127.0.0.1', port: closedPort });
    expect(res.status).toBe(200);
    expect(res.body.data.isConnect).toBe(false);
    expect(res.body.data.connectError).toMatch(/connection refused/);
    const stored = await mongoose.connection.db!.collection('registries').findOne({ key: `127.0.0.1:${closedPort}` });
    expect(stored).toMatchObject({ isConnect: false, connectError: expect.stringMatching(/connection refused/) });
  });

  it('When a client sends isConnect true for an unreachable registry, then it is ignored', async () => {
    const { app: a } = app();
    const res = await request(a)
      .post('/api/repository')
      .send({ repository: '127.0.0.1', port: closedPort, isConnect: true });
    expect(res.body.data.isConnect).toBe(false);
  });

  it('When a basic-auth registry is added with the right password, then it connects and the password is masked', async () => {
    const { app: a } = app();
    const res = await request(a)
      .post('/api/repository')
      .send({ repository: '127.0.0.1', port: basic.port, isAuth: true, username: 'alice', passwd: SECRET });
    expect(res.body.data).toMatchObject({ isConnect: true, passwd: '******', username: 'alice' });
    expect(JSON.stringify(res.body)).not.toContain(SECRET);
  });

  it('When a basic-auth registry is added with a wrong password, then isConnect is false and says the credentials were refused', async () => {
    const { app: a } = app();
    const res = await request(a)
      .post('/api/repository')
      .send({ repository: '127.0.0.1', port: basic.port, isAuth: true, username: 'alice', passwd: 'wrong' });
    expect(res.body.data.isConnect).toBe(false);
    expect(res.body.data.connectError).toMatch(/refused the credentials of user "alice"/);
  });

  it('When a token-auth registry is added, then the right password connects and a wrong one names the token server', async () => {
    const { app: a } = app();
    const good = await request(a)
      .post('/api/repository')
      .send({ repository: '127.0.0.1', port: tokenReg.port, isAuth: true, username: 'alice', passwd: SECRET });
    expect(good.body.data).toMatchObject({ isConnect: true, connectError: null });
    // Same host as the realm (127.0.0.1): credentials go to a plain-http realm only on the registry's own host.
    const bad = await request(a)
      .put('/api/repository')
      .send({ repository: '127.0.0.1', port: tokenReg.port, passwd: 'wrong' });
    expect(bad.body.data.isConnect).toBe(false);
    expect(bad.body.data.connectError).toMatch(/token server .* refused the credentials of user "alice"/);
  });

  it('When the same host and port is added twice, then 5006/409', async () => {
    const { app: a } = app();
    await request(a).post('/api/repository').send({ repository: '127.0.0.1', port: closedPort });
    const res = await request(a).post('/api/repository').send({ repository: '127.0.0.1', port: closedPort, name: 'x' });
    expect(res.status).toBe(409);
    expect(res.body).toMatchObject({ code: 5006, message: 'conflictException' });
    expect(res.body.data).toMatch(/already exists/);
  });

  it('When the same alias is used twice, then 5006/409, while many registries without alias coexist', async () => {
    const { app: a } = app();
    await request(a).post('/api/repository').send({ repository: '127.0.0.1', port: closedPort, name: 'dup' });
    expect((await request(a).post('/api/repository').send({ repository: '127.0.0.2', port: closedPort })).status).toBe(
      200,
    );
    expect((await request(a).post('/api/repository').send({ repository: '127.0.0.3', port: closedPort })).status).toBe(
      200,
    );
    const res = await request(a)
      .post('/api/repository')
      .send({ repository: '127.0.0.4', port: closedPort, name: 'dup' });
    expect(res.status).toBe(409);
    expect(res.body.data).toMatch(/alias "dup" is already used by registry 127\.0\.0\.1:/);
    expect(await mongoose.connection.db!.collection('registries').countDocuments()).toBe(3);
  });

  it('When two creates with the same alias race, then exactly one wins and the other gets 5006', async () => {
    const { app: a } = app();
    const replies = await Promise.all([
      request(a).post('/api/repository').send({ repository: '127.0.0.5', port: closedPort, name: 'race' }),
      request(a).post('/api/repository').send({ repository: '127.0.0.6', port: closedPort, name: 'race' }),
    ]);
    expect(replies.map((r) => r.body.code).sort()).toEqual([0, 5006]);
    expect(await mongoose.connection.db!.collection('registries').countDocuments({ name: 'race' })).toBe(1);
  });

  const bad: Array<[string, Record<string, unknown>, RegExp]> = [
    ['no repository', { port: 5000 }, /body\.repository/],
    [
      'a URL as host',
      { repository: 'http://reg.example.com', port: 5000 },
      /body\.repository: must be a host name or IP/,
    ],
    ['a host with a port', { repository: 'reg.example.com:5000', port: 5000 }, /body\.repository/],
    ['port 0', { repository: 'reg', port: 0 }, /body\.port: must be between 1 and 65535/],
    ['port 70000', { repository: 'reg', port: 70000 }, /body\.port: must be between 1 and 65535/],
    ['a string port', { repository: 'reg', port: 'abc' }, /body\.port: must be a number/],
    ['an unknown field', { repository: 'reg', port: 5000, color: 'red' }, /body: unknown field "color"/],
    ['a $-key', { repository: 'reg', port: 5000, $where: '1' }, /unknown field "\$where"/],
    ['an operator as host', { repository: { $ne: '' }, port: 5000 }, /body\.repository: must be a string/],
    ['a $-key inside options', { repository: 'reg', port: 5000, options: { a: { $set: 1 } } }, /body\.options/],
    [
      'isHttps not a boolean',
      { repository: 'reg', port: 5000, isHttps: 'yes' },
      /body\.isHttps: must be true or false/,
    ],
    ['an alias with a colon', { repository: 'reg', port: 5000, name: 'a:b' }, /body\.name/],
    [
      'isAuth without a username',
      { repository: 'reg', port: 5000, isAuth: true, passwd: 'x' },
      /body\.username: is required/,
    ],
  ];
  it.each(bad)('When the body has %s, then 5003/400 names the field and nothing is stored', async (_n, body, why) => {
    const { app: a } = app();
    const res = await request(a).post('/api/repository').send(body);
    expect(res.status).toBe(400);
    expect(res.body.code).toBe(5003);
    expect(res.body.data).toMatch(why);
    expect(await mongoose.connection.db!.collection('registries').countDocuments()).toBe(0);
  });

  it('When a registry is created, then onRegistryCreated is called with its key', async () => {
    const keys: string[] = [];
    const { app: a } = buildTestApp({ REGISTRY_TEST_TIMEOUT_MS: '3000' }, { onRegistryCreated: (k) => keys.push(k) });
    await request(a).post('/api/repository').send({ repository: '127.0.0.1', port: closedPort });
    await new Promise((r) => setImmediate(r));
    expect(keys).toEqual([`127.0.0.1:${closedPort}`]);
  });
});

describe('registry kinds', () => {
  it('When a bk-repo registry lacks options.projectId, then 5003 names the field and nothing is stored', async () => {
    const { app: a } = app();
    const res = await request(a)
      .post('/api/repository')
      .send({ repository: '127.0.0.1', port: closedPort, kind: 'bkrepo', options: { repoName: 'docker-local' } });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe(5003);
    expect(res.body.data).toMatch(/options\.projectId/);
    expect(await mongoose.connection.db!.collection('registries').countDocuments()).toBe(0);
  });

  it('When the kind is unknown, then 5003 lists the kinds', async () => {
    const { app: a } = app();
    const res = await request(a)
      .post('/api/repository')
      .send({ repository: '127.0.0.1', port: closedPort, kind: 'quay' });
    expect(res.status).toBe(400);
    expect(res.body.data).toMatch(/body\.kind: must be one of registry, harbor, swr, bkrepo, dockerhub/);
  });

  it('When an SWR registry has its options, then it is stored with them; an update dropping namespace gets 5003', async () => {
    const { app: a } = app();
    const options = { apiUrl: 'https://swr-api.example.test', namespace: 'team', token: 'iam-token' };
    const res = await request(a)
      .post('/api/repository')
      .send({ repository: '127.0.0.1', port: closedPort, kind: 'swr', options });
    expect(res.status).toBe(200);
    expect(res.body.data.kind).toBe('swr');
    expect(res.body.data.options).toEqual({ ...options, token: '******' });
    const raw = await mongoose.connection.db!.collection('registries').findOne({ key: `127.0.0.1:${closedPort}` });
    expect(JSON.stringify(raw)).not.toContain('iam-token');
    const kept = await request(a)
      .put('/api/repository')
      .send({ repository: '127.0.0.1', port: closedPort, options: { ...options, token: '******', name: 'web' } });
    expect(kept.status).toBe(200);
    const after = await mongoose.connection.db!.collection('registries').findOne({ key: `127.0.0.1:${closedPort}` });
    expect(after?.options.token).toBe(raw?.options.token);
    expect(after?.options.name).toBe('web');
    const bad = await request(a)
      .put('/api/repository')
      .send({ repository: '127.0.0.1', port: closedPort, options: { apiUrl: 'https://swr-api.example.test' } });
    expect(bad.status).toBe(400);
    expect(bad.body.data).toMatch(/options\.namespace/);
    const stored = await mongoose.connection.db!.collection('registries').findOne({ key: `127.0.0.1:${closedPort}` });
    expect(stored?.options).toMatchObject({ namespace: 'team' });
  });
});

describe('stored secrets', () => {
  it('When a password is stored, then the raw document holds only ciphertext and the logs never show it', async () => {
    const { app: a, logs } = app({ LOG_LEVEL: 'trace' });
    await request(a)
      .post('/api/repository')
      .send({ repository: '127.0.0.1', port: basic.port, isAuth: true, username: 'alice', passwd: SECRET });
    await request(a)
      .put('/api/repository')
      .query({ repository: `127.0.0.1:${basic.port}` });
    await request(a)
      .put('/api/repository')
      .send({ repository: '127.0.0.1', port: basic.port, passwd: `${SECRET}-2` });
    const raw = await mongoose.connection.db!.collection('registries').findOne({});
    expect(JSON.stringify(raw)).not.toContain(SECRET);
    expect(raw!.passwdEnc).toMatch(/^v1:[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+$/);
    expect(logs.lines.length).toBeGreaterThan(3);
    expect(logs.text).not.toContain(SECRET);
    expect(logs.text).not.toContain(Buffer.from(`alice:${SECRET}`).toString('base64'));
    expect(logs.text).toContain('registry GET');
  });
});

describe('PUT /api/repository (update)', () => {
  it('When passwd is absent, empty or "******", then the stored password is kept and the registry still connects', async () => {
    const { app: a } = app();
    const created = await request(a)
      .post('/api/repository')
      .send({ repository: '127.0.0.1', port: basic.port, isAuth: true, username: 'alice', passwd: SECRET });
    for (const passwd of [undefined, '', '******']) {
      const res = await request(a)
        .put('/api/repository')
        .send({
          _id: created.body.data._id,
          name: `n${String(passwd?.length)}`,
          ...(passwd === undefined ? {} : { passwd }),
          isHttps: false,
        });
      expect(res.status).toBe(200);
      expect(res.body.data.passwd).toBe('******');
    }
    const tested = await request(a).put('/api/repository').query({ repository: 'n6' });
    expect(tested.body.data).toMatchObject({ isConnect: true, name: 'n6' });
  });

  it('When the console sends back the registry it read, then the update succeeds and keeps the password', async () => {
    const { app: a } = app();
    await request(a)
      .post('/api/repository')
      .send({ repository: '127.0.0.1', port: basic.port, isAuth: true, username: 'alice', passwd: SECRET });
    const [read] = (await request(a).get('/api/repository')).body.data;
    const res = await request(a)
      .put('/api/repository')
      .send({ ...read, name: 'roundtrip', isHttps: false });
    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({ name: 'roundtrip', passwd: '******', key: read.key });
    expect((await request(a).put('/api/repository?repository=roundtrip')).body.data.isConnect).toBe(true);
  });

  it('When a new wrong password is sent, then the re-test shows the credentials were refused', async () => {
    const { app: a } = app();
    await request(a)
      .post('/api/repository')
      .send({ repository: '127.0.0.1', port: basic.port, isAuth: true, username: 'alice', passwd: SECRET });
    const res = await request(a)
      .put('/api/repository')
      .send({ repository: '127.0.0.1', port: basic.port, passwd: 'nope' });
    expect(res.body.data.isConnect).toBe(false);
    expect(res.body.data.connectError).toMatch(/refused the credentials/);
  });

  it('When found by repository + port, then the fields change and the seed fields come back', async () => {
    const { app: a } = app();
    await request(a).post('/api/repository').send({ repository: '127.0.0.1', port: closedPort });
    const res = await request(a)
      .put('/api/repository')
      .send({
        repository: '127.0.0.1',
        port: closedPort,
        name: 'renamed',
        kind: 'harbor',
        options: { projects: ['p'] },
        skipTlsVerify: true,
      });
    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({
      name: 'renamed',
      kind: 'harbor',
      options: { projects: ['p'] },
      skipTlsVerify: true,
    });
    for (const f of ['name', 'port', 'username', 'passwd', 'isHttps', 'isAuth', 'isConnect', 'repository', '_id'])
      expect(res.body.data).toHaveProperty(f);
  });

  it('When the host and port change by _id, then the key follows and so do its images', async () => {
    const { app: a } = app();
    const created = await request(a).post('/api/repository').send({ repository: '127.0.0.1', port: closedPort });
    await insertImages([buildImage({ repository: `127.0.0.1:${closedPort}` })]);
    const res = await request(a).put('/api/repository').send({ _id: created.body.data._id, port: open.port });
    expect(res.body.data).toMatchObject({ key: `127.0.0.1:${open.port}`, isConnect: true });
    expect(await ImageModel.countDocuments({ repository: `127.0.0.1:${open.port}` })).toBe(1);
  });

  it('When the registry is unknown, then 5004/404', async () => {
    const { app: a } = app();
    const res = await request(a).put('/api/repository').send({ repository: '10.9.9.9', port: 5000, name: 'x' });
    expect(res.status).toBe(404);
    expect(res.body.code).toBe(5004);
    const byId = await request(a).put('/api/repository').send({ _id: '0123456789abcdef01234567', name: 'x' });
    expect(byId.body.code).toBe(5004);
  });

  it("When the update would take another registry's alias or key, then 5006", async () => {
    const { app: a } = app();
    await request(a).post('/api/repository').send({ repository: '127.0.0.1', port: closedPort, name: 'one' });
    const two = await request(a)
      .post('/api/repository')
      .send({ repository: '127.0.0.2', port: closedPort, name: 'two' });
    expect((await request(a).put('/api/repository').send({ _id: two.body.data._id, name: 'one' })).body.code).toBe(
      5006,
    );
    const moved = await request(a).put('/api/repository').send({ _id: two.body.data._id, repository: '127.0.0.1' });
    expect(moved.body.code).toBe(5006);
  });

  it('When the body names neither _id nor repository + port, or has an unknown field, then 5003', async () => {
    const { app: a } = app();
    const res = await request(a).put('/api/repository').send({ name: 'x' });
    expect(res.status).toBe(400);
    expect(res.body.data).toMatch(/give _id, or repository and port/);
    const unknown = await request(a)
      .put('/api/repository')
      .send({ repository: 'a', port: 1, $inc: { port: 1 } });
    expect(unknown.body.data).toMatch(/unknown field "\$inc"/);
  });
});

describe('?repository= (DELETE, PUT as connection test)', () => {
  async function seed(a: ReturnType<typeof app>['app']) {
    await request(a).post('/api/repository').send({ repository: '127.0.0.1', port: open.port, name: 'alpha' });
    await request(a).post('/api/repository').send({ repository: 'localhost', port: closedPort });
    await request(a).post('/api/repository').send({ repository: 'localhost', port: open.port });
  }

  it('When tested by key, alias or unique bare host, then the stored result comes back', async () => {
    const { app: a } = app();
    await seed(a);
    await RegistryReset();
    const byKey = await request(a).put(`/api/repository?repository=127.0.0.1:${open.port}`);
    expect(byKey.body.data).toMatchObject({ key: `127.0.0.1:${open.port}`, isConnect: true, connectError: null });
    const byAlias = await request(a).put('/api/repository?repository=alpha');
    expect(byAlias.body.data.key).toBe(`127.0.0.1:${open.port}`);
    const byHost = await request(a).put('/api/repository?repository=127.0.0.1');
    expect(byHost.body.data.key).toBe(`127.0.0.1:${open.port}`);
    const failing = await request(a).put(`/api/repository?repository=localhost:${closedPort}`);
    expect(failing.body.code).toBe(0);
    expect(failing.body.data).toMatchObject({ isConnect: false, connectError: expect.stringMatching(/refused/) });
    const stored = await mongoose.connection.db!.collection('registries').findOne({ key: `localhost:${closedPort}` });
    expect(stored).toMatchObject({ isConnect: false, lastTestedAt: expect.any(Date) });
  });

  it('When a bare host matches two registries, then 5003 says it is ambiguous', async () => {
    const { app: a } = app();
    await seed(a);
    const res = await request(a).delete('/api/repository?repository=localhost');
    expect(res.status).toBe(400);
    expect(res.body.data).toMatch(/ambiguous/);
    expect(await mongoose.connection.db!.collection('registries').countDocuments()).toBe(3);
  });

  it('When the registry is unknown, then 5004; when the parameter is empty, then 5003', async () => {
    const { app: a } = app();
    expect((await request(a).put('/api/repository?repository=nothere:1')).body.code).toBe(5004);
    expect((await request(a).delete('/api/repository?repository=nothere')).body.code).toBe(5004);
    const empty = await request(a).delete('/api/repository');
    expect(empty.body).toMatchObject({ code: 5003 });
    expect(empty.body.data).toMatch(/query\.repository/);
  });

  it('When a registry is deleted, then it is answered and only its images are removed', async () => {
    const { app: a } = app();
    await seed(a);
    await insertImages([
      buildImage({ repository: `127.0.0.1:${open.port}` }),
      buildImage({ repository: `127.0.0.1:${open.port}` }),
      buildImage({ repository: `localhost:${open.port}` }),
    ]);
    const res = await request(a).delete('/api/repository?repository=alpha');
    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({ key: `127.0.0.1:${open.port}`, name: 'alpha', passwd: '' });
    expect(await ImageModel.countDocuments({ repository: `127.0.0.1:${open.port}` })).toBe(0);
    expect(await ImageModel.countDocuments({ repository: `localhost:${open.port}` })).toBe(1);
    const list = await request(a).get('/api/repository');
    expect(list.body.data.map((r: { key: string }) => r.key).sort()).toEqual(
      [`localhost:${closedPort}`, `localhost:${open.port}`].sort(),
    );
  });

  it('When PUT has both ?repository= and a body, then 5003', async () => {
    const { app: a } = app();
    const res = await request(a).put('/api/repository?repository=x').send({ name: 'y' });
    expect(res.status).toBe(400);
    expect(res.body.data).toMatch(/not both/);
  });
});

/** Forgets stored test results so a later assertion proves a new test ran. */
async function RegistryReset(): Promise<void> {
  await mongoose.connection
    .db!.collection('registries')
    .updateMany({}, { $set: { isConnect: false, connectError: 'x' } });
}

describe('OpenAPI', () => {
  it('When the document is served, then /api/repository lists GET, POST, PUT and DELETE', async () => {
    const { app: a } = app();
    const res = await request(a).get('/api/openapi.json');
    expect(Object.keys(res.body.paths['/api/repository']).sort()).toEqual(['delete', 'get', 'post', 'put']);
    expect(res.body.components.schemas.Registry).toBeDefined();
  });
});
