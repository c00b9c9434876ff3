import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createTcpServer, type Server as TcpServer, type Socket } from 'node:net';
import { createRegistryClient } from '../../../src/clients/registry/registry.client';
import type { RegistryClient, RegistryTarget } from '../../../src/clients/registry/registry.types';
import { NotFoundError, RegistryError } from '../../../src/errors/app-error';
import { createLogger } from '../../../src/logger';
import { LogCapture } from '../../helpers/app';
import { debianLayer, pushImage, pushIndex, sha256, type PushedImage } from '../../helpers/oci-image';
import { freePort, startRegistry, type RegistryProcess } from '../../helpers/registry-process';
import { makeSelfSignedCert, startTokenServer, type TokenServer } from '../../helpers/token-server';

const USER = { username: 'bob', password: 'b0b-Secret-Pass' };
const logs = new LogCapture();
const ctx = { log: createLogger('debug', logs) };

let open: RegistryProcess;
let basic: RegistryProcess;
let tokenReg: RegistryProcess;
let tokens: TokenServer;
let amd: PushedImage;
let indexDigest: string;
const layer = debianLayer([{ name: 'zlib1g', version: '1:1.2.13.dfsg-1' }]);

function target(reg: { port: number }, extra: Partial<RegistryTarget> = {}): RegistryTarget {
  return { host: '127.0.0.1', port: reg.port, isHttps: false, ...extra };
}
function client(t: RegistryTarget, timeoutMs = 5000, pageSize?: number): RegistryClient {
  return createRegistryClient(t, { timeoutMs, pageSize });
}
async function collect(it: AsyncIterable<string>): Promise<string[]> {
  const out: string[] = [];
  for await (const x of it) out.push(x);
  return out;
}
async function pushToken(name: string): Promise<string> {
  const url = `${tokens.realm}?service=${tokens.service}&scope=${encodeURIComponent(`repository:${name}:pull,push`)}`;
  const res = await fetch(url, {
    headers: { authorization: `Basic ${Buffer.from(`${USER.username}:${USER.password}`).toString('base64')}` },
  });
  return `Bearer ${((await res.json()) as { token: string }).token}`;
}

beforeAll(async () => {
  tokens = await startTokenServer(USER);
  [open, basic, tokenReg] = await Promise.all([
    startRegistry(),
    startRegistry({ htpasswd: USER }),
    startRegistry({
      token: {
        realm: tokens.realm,
        service: tokens.service,
        issuer: tokens.issuer,
        rootCertBundle: tokens.rootCertBundle,
      },
    }),
  ]);
  // Open registry: 5 repositories, one of them with 5 tags and a two-platform index.
  amd = await pushImage(open.url, 'demo/app', ['1', '2', '3', '4'], [layer]);
  const arm = await pushImage(open.url, 'demo/app', [], [layer], {
    platform: { os: 'linux', architecture: 'arm64' },
    format: 'oci',
  });
  const size = (d: PushedImage) => Buffer.byteLength(JSON.stringify(d.manifest));
  indexDigest = await pushIndex(open.url, 'demo/app', 'multi', [
    { digest: amd.digest, size: size(amd), platform: { os: 'linux', architecture: 'amd64' } },
    { digest: arm.digest, size: size(arm), platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
  ]);
  for (const n of ['a/one', 'b/two', 'c/three', 'd/four']) await pushImage(open.url, n, ['latest'], [layer]);
  await pushImage(basic.url, 'secure/app', ['1.0'], [layer], {
    auth: { authorization: `Basic ${Buffer.from(`${USER.username}:${USER.password}`).toString('base64')}` },
  });
  await pushImage(tokenReg.url, 'tok/app', ['1.0', '2.0', '3.0'], [layer], {
    auth: { authorization: await pushToken('tok/app') },
  });
});

afterAll(async () => {
  await Promise.all([open?.stop(), basic?.stop(), tokenReg?.stop(), tokens?.stop()]);
});

describe('open registry', () => {
  it('When there are more repositories and tags than one page, then every one is listed by following Link', async () => {
    const c = client(target(open), 5000, 2);
    expect((await collect(c.listRepositories(ctx))).sort()).toEqual([
      'a/one',
      'b/two',
      'c/three',
      'd/four',
      'demo/app',
    ]);
    expect((await collect(c.listTags('demo/app', ctx))).sort()).toEqual(['1', '2', '3', '4', 'multi']);
    // Three catalog pages of at most 2 were read.
    expect(logs.text.match(/_catalog\?[^"]*(n=2)/g)?.length).toBeGreaterThanOrEqual(3);
  });

  it('When a two-platform index is fetched by tag, then its platforms are parsed and each entry resolves by digest', async () => {
    const c = client(target(open));
    const idx = await c.getManifest('demo/app', 'multi', ctx);
    expect(idx.digest).toBe(indexDigest);
    expect(idx.mediaType).toBe('application/vnd.oci.image.index.v1+json');
    expect(idx.manifest.kind).toBe('index');
    if (idx.manifest.kind !== 'index') throw new Error('not an index');
    expect(idx.manifest.manifests.map((m) => m.platform)).toEqual([
      { os: 'linux', architecture: 'amd64' },
      { os: 'linux', architecture: 'arm64', variant: 'v8' },
    ]);
    const armEntry = idx.manifest.manifests[1];
    const img = await c.getManifest('demo/app', armEntry.digest, ctx);
    expect(img.digest).toBe(armEntry.digest);
    if (img.manifest.kind !== 'image') throw new Error('not an image');
    expect(img.manifest.layers.map((l) => l.digest)).toEqual([layer.digest]);
    const config = await c.getImageConfig('demo/app', img.manifest.config.digest, ctx);
    expect(config).toEqual({ os: 'linux', architecture: 'arm64', variant: undefined, created: '2026-01-01T00:00:00Z' });
  });

  it('When a tag or repository does not exist, then NotFoundError', async () => {
    const c = client(target(open));
    await expect(c.getManifest('demo/app', 'nope', ctx)).rejects.toBeInstanceOf(NotFoundError);
    await expect(collect(c.listTags('no/such', ctx))).rejects.toBeInstanceOf(NotFoundError);
  });

  it('When pull headers are asked of an open registry, then they are empty and the blob URL serves the layer', async () => {
    const c = client(target(open));
    expect(await c.pullHeaders('demo/app', ctx)).toEqual({});
    const res = await fetch(c.blobUrl('demo/app', layer.digest));
    expect(res.status).toBe(200);
    expect(sha256(Buffer.from(await res.arrayBuffer()))).toBe(layer.digest);
  });
});

describe('basic auth (htpasswd)', () => {
  it('When the credentials are right, then ping, listing and manifests work and pull headers fetch a blob', async () => {
    const c = client(target(basic, { credentials: USER }));
    await c.ping(ctx);
    expect(await collect(c.listRepositories(ctx))).toEqual(['secure/app']);
    const m = await c.getManifest('secure/app', '1.0', ctx);
    expect(m.manifest.kind).toBe('image');
    const headers = await c.pullHeaders('secure/app', ctx);
    expect(headers.Authorization).toMatch(/^Basic /);
    expect((await fetch(c.blobUrl('secure/app', layer.digest))).status).toBe(401);
    expect((await fetch(c.blobUrl('secure/app', layer.digest), { headers })).status).toBe(200);
  });

  it('When the password is wrong, then RegistryError says the credentials were refused', async () => {
    const c = client(target(basic, { credentials: { ...USER, password: 'wrong' } }));
    const err = await c.ping(ctx).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RegistryError);
    expect((err as Error).message).toMatch(/refused the credentials of user "bob"/);
  });

  it('When no credentials are configured, then RegistryError says to set them', async () => {
    await expect(client(target(basic)).ping(ctx)).rejects.toThrow(/set isAuth, username and passwd/);
  });
});

describe('bearer-token auth', () => {
  it('When the credentials are right, then the token exchange grants catalog and pull scopes', async () => {
    const c = client(target(tokenReg, { credentials: USER }), 5000, 2);
    await c.ping(ctx);
    expect(await collect(c.listRepositories(ctx))).toEqual(['tok/app']);
    expect((await collect(c.listTags('tok/app', ctx))).sort()).toEqual(['1.0', '2.0', '3.0']);
    const m = await c.getManifest('tok/app', '2.0', ctx);
    expect(m.manifest.kind).toBe('image');
    const asked = tokens.requests.map((r) => r.scopes.join(' '));
    expect(asked).toContain('registry:catalog:*');
    expect(asked).toContain('repository:tok/app:pull');
    expect(tokens.requests.every((r) => r.service === tokens.service)).toBe(true);
  });

  it('When the same scope is used again, then the cached token is reused', async () => {
    const c = client(target(tokenReg, { credentials: USER }));
    await c.getManifest('tok/app', '1.0', ctx);
    const before = tokens.requests.length;
    await c.getManifest('tok/app', '3.0', ctx);
    await collect(c.listTags('tok/app', ctx));
    expect(tokens.requests.length).toBe(before);
  });

  it('When pull headers are asked, then a bearer token for the repository fetches a blob; a short-lived one is renewed', async () => {
    const c = client(target(tokenReg, { credentials: USER }));
    const headers = await c.pullHeaders('tok/app', ctx, 60);
    expect(headers.Authorization).toMatch(/^Bearer [\w-]+\.[\w-]+\.[\w-]+$/);
    expect((await fetch(c.blobUrl('tok/app', layer.digest))).status).toBe(401);
    const blob = await fetch(c.blobUrl('tok/app', layer.digest), { headers });
    expect(blob.status).toBe(200);
    // Same validity again: cached. Asking for more validity than the token has left: a new token.
    const count = tokens.requests.length;
    expect(await c.pullHeaders('tok/app', ctx, 60)).toEqual(headers);
    expect(tokens.requests.length).toBe(count);
    await c.pullHeaders('tok/app', ctx, 3600);
    expect(tokens.requests.length).toBe(count + 1);
  });

  it('When the password is wrong, then RegistryError says the token server refused the credentials', async () => {
    const c = client(target(tokenReg, { credentials: { ...USER, password: 'wrong' } }));
    await expect(c.ping(ctx)).rejects.toThrow(/token server 127\.0\.0\.1:\d+ refused the credentials of user "bob"/);
  });

  it('When nothing in the logs, then neither the password nor a token appears', () => {
    expect(logs.text).toContain('registry GET');
    expect(logs.text).not.toContain(USER.password);
    expect(logs.text).not.toContain(Buffer.from(`${USER.username}:${USER.password}`).toString('base64'));
    expect(logs.text).not.toMatch(/Bearer ey/);
  });
});

describe('failures a person can act on', () => {
  const servers: Array<Server | TcpServer> = [];
  const sockets: Socket[] = [];
  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  });
  async function listen<T extends Server | TcpServer>(s: T): Promise<number> {
    servers.push(s);
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    return (s.address() as { port: number }).port;
  }

  it('When nothing listens on the port, then "connection refused"', async () => {
    const port = await freePort();
    await expect(client({ host: '127.0.0.1', port, isHttps: false }).ping(ctx)).rejects.toThrow(
      /connection refused by 127\.0\.0\.1:\d+/,
    );
  });

  it('When https is used against an http registry, then it says the port does not speak https', async () => {
    await expect(client(target(open, { isHttps: true })).ping(ctx)).rejects.toThrow(
      /TLS handshake failed: .* does not speak https on this port/,
    );
  });

  it('When the server has a self-signed certificate, then https fails with a hint, skipTlsVerify connects, http is told to use https', async () => {
    const cert = makeSelfSignedCert();
    const port = await listen(
      createHttpsServer({ cert: cert.certPem, key: cert.keyPem }, (_req, res) => {
        res.writeHead(200, { 'docker-distribution-api-version': 'registry/2.0', 'content-type': 'application/json' });
        res.end('{}');
      }),
    );
    const t = { host: '127.0.0.1', port, isHttps: true };
    await expect(client(t).ping(ctx)).rejects.toThrow(/TLS handshake failed: .*self-signed.*set skipTlsVerify/);
    await expect(client({ ...t, skipTlsVerify: true }).ping(ctx)).resolves.toBeUndefined();
    await expect(client({ ...t, isHttps: false }).ping(ctx)).rejects.toThrow(/https port\? set isHttps to true/);
  });

  it('When an HTTP server that is not a registry answers 404 on /v2/, then "not a Docker registry"', async () => {
    const port = await listen(createHttpServer((_req, res) => res.writeHead(404).end('not found')));
    await expect(client({ host: '127.0.0.1', port, isHttps: false }).ping(ctx)).rejects.toThrow(
      /404 on \/v2\/; this is not a Docker registry/,
    );
  });

  it('When the server never answers, then the call times out within the configured time', async () => {
    const port = await listen(createTcpServer((s) => sockets.push(s)));
    const started = Date.now();
    const err = await client({ host: '127.0.0.1', port, isHttps: false }, 300)
      .ping(ctx)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RegistryError);
    expect((err as Error).message).toMatch(/no answer from 127\.0\.0\.1:\d+ within 300 ms \(timeout\)/);
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('When a manifest does not match Docker-Content-Digest or the requested digest, then RegistryError', async () => {
    const body = JSON.stringify(amd.manifest);
    const port = await listen(
      createHttpServer((req, res) => {
        // By tag: a wrong Docker-Content-Digest. By digest: no header, so only the requested digest can be checked.
        const byDigest = req.url?.includes('/manifests/sha256:');
        res.writeHead(200, {
          'content-type': 'application/vnd.oci.image.manifest.v1+json',
          ...(byDigest ? {} : { 'docker-content-digest': `sha256:${'0'.repeat(64)}` }),
        });
        res.end(body);
      }),
    );
    const c = client({ host: '127.0.0.1', port, isHttps: false });
    await expect(c.getManifest('x/y', 'latest', ctx)).rejects.toThrow(/does not match its Docker-Content-Digest/);
    await expect(c.getManifest('x/y', `sha256:${'1'.repeat(64)}`, ctx)).rejects.toThrow(
      /does not match the requested digest/,
    );
    // The same bytes asked by their true digest are accepted.
    const ok = await c.getManifest('x/y', sha256(body), ctx);
    expect(ok.digest).toBe(sha256(body));
  });
});
