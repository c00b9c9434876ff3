import https from 'node:https';
import type { LookupAddress } from 'node:dns';
import type { AddressInfo } from 'node:net';
import type { ServerResponse } from 'node:http';
import { ClairHttp } from '../../../src/clients/clair/clair-http';
import { createOutbound, DEFAULT_OUTBOUND, type Outbound } from '../../../src/clients/http/outbound';
import { createRegistryClient } from '../../../src/clients/registry/registry.client';
import { createImageLister } from '../../../src/clients/registry/vendors';
import { RegistryError, ScannerError } from '../../../src/errors/app-error';
import { testCtx } from '../../helpers/fakes/ctx';
import { collect, type FakeHttpServer, sendJson, startFakeHttpServer } from '../../helpers/fakes/fake-http-server';
import { makeSelfSignedCert } from '../../helpers/token-server';

/**
 * The outbound layer against real loopback servers: the egress policy on resolved and literal
 * addresses, the total deadline, the reply cap, environment proxies and per-target TLS.
 */

const ctx = testCtx();

/** A Harbor v2.0 answering the three list calls with one project, one repository and one tag. */
function harborHandler(_req: unknown, res: ServerResponse, url: URL): void {
  if (url.pathname === '/api/v2.0/projects') return sendJson(res, 200, [{ name: 'team' }]);
  if (url.pathname === '/api/v2.0/projects/team/repositories') return sendJson(res, 200, [{ name: 'team/app' }]);
  if (url.pathname === '/api/v2.0/projects/team/repositories/app/artifacts')
    return sendJson(res, 200, [{ tags: [{ name: 'v1' }] }]);
  sendJson(res, 404, { errors: [{ code: 'NOT_FOUND', message: url.pathname }] });
}

function harborLister(port: number, opts: { isHttps?: boolean; skipTlsVerify?: boolean; outbound?: Outbound } = {}) {
  return createImageLister({
    kind: 'harbor',
    options: {},
    target: { host: '127.0.0.1', port, isHttps: opts.isHttps ?? false, skipTlsVerify: opts.skipTlsVerify },
    timeoutMs: 2000,
    outbound: opts.outbound,
  })!;
}

/** Replies 200 at once, then one byte every 100 ms for `forMs` (never idle long enough for an idle timeout). */
function drip(res: ServerResponse, forMs: number): void {
  res.writeHead(200, { 'Content-Type': 'application/json' });
  res.write('[');
  const started = Date.now();
  const timer = setInterval(() => {
    if (Date.now() - started > forMs) {
      clearInterval(timer);
      res.end(']');
    } else res.write(' ');
  }, 100);
  res.on('close', () => clearInterval(timer));
}

let server: FakeHttpServer;
afterEach(async () => {
  await server?.close();
});

describe('egress policy at connect time', () => {
  const denyLoopback = createOutbound({ ...DEFAULT_OUTBOUND, deny: ['127.0.0.0/8', '::1/128'] });

  it('When a host name resolves to a denied address, then the registry client refuses to connect (5002 naming the rule)', async () => {
    server = await startFakeHttpServer((_req, res) => sendJson(res, 200, {}));
    const client = createRegistryClient(
      { host: 'localhost', port: server.port, isHttps: false },
      { timeoutMs: 2000, outbound: denyLoopback },
    );

    const err = await client.ping(ctx).catch((e: unknown) => e);

    expect(err).toBeInstanceOf(RegistryError);
    expect((err as Error).message).toMatch(
      /localhost: (127\.0\.0\.1|::1) is denied by EGRESS_DENY (127\.0\.0\.0\/8|::1\/128)/,
    );
    expect(server.requests).toHaveLength(0);
  });

  it('When DNS maps a harmless-looking name to the metadata address, then the default policy refuses it before connecting', async () => {
    const lookups: string[] = [];
    const outbound = createOutbound(DEFAULT_OUTBOUND, {
      lookup: ((host: string, _o: unknown, cb: (e: null, a: LookupAddress[]) => void) => {
        lookups.push(host);
        cb(null, [{ address: '169.254.169.254', family: 4 }]);
      }) as never,
    });
    const clair = new ClairHttp({
      version: 'v4',
      baseUrl: 'http://clair.internal:6060',
      timeoutMs: 2000,
      indexTimeoutMs: 2000,
      outbound,
    });

    const err = await clair.call(ctx, { method: 'GET', path: '/healthz', what: 'ping' }).catch((e: unknown) => e);

    expect(lookups).toEqual(['clair.internal']);
    expect(err).toBeInstanceOf(ScannerError);
    expect((err as Error).message).toContain('169.254.169.254 is denied by EGRESS_DENY 169.254.0.0/16');
  });

  it('When the target is an IP literal, plain or IPv4-mapped IPv6, then it is checked too (Node skips lookup for literals)', async () => {
    server = await startFakeHttpServer((_req, res) => sendJson(res, 200, []));
    for (const host of ['127.0.0.1', '::ffff:127.0.0.1']) {
      const client = createRegistryClient(
        { host, port: server.port, isHttps: false },
        { timeoutMs: 2000, outbound: denyLoopback },
      );
      await expect(client.ping(ctx)).rejects.toThrow(/is denied by EGRESS_DENY 127\.0\.0\.0\/8/);
    }
    expect(server.requests).toHaveLength(0);
  });

  it('When a name resolves to an allowed address, then the call goes through (loopback is allowed by default)', async () => {
    server = await startFakeHttpServer(harborHandler);
    const images = await collect(
      createImageLister({
        kind: 'harbor',
        options: { apiUrl: `http://localhost:${server.port}` },
        target: { host: 'localhost', port: server.port, isHttps: false },
        timeoutMs: 2000,
      })!.listImages(ctx),
    );
    expect(images).toEqual([{ image: 'team/app', tags: ['v1'] }]);
  });
});

describe('total deadline', () => {
  it('When Clair drips its reply byte by byte, then the call is aborted at its deadline with 504', async () => {
    server = await startFakeHttpServer((_req, res) => drip(res, 6000));
    const clair = new ClairHttp({ version: 'v4', baseUrl: server.baseUrl, timeoutMs: 600, indexTimeoutMs: 600 });

    const err = await clair.call(ctx, { method: 'GET', path: '/slow', what: 'read a report' }).catch((e: unknown) => e);

    expect(err).toBeInstanceOf(ScannerError);
    expect((err as ScannerError).httpStatus).toBe(504);
    expect((err as Error).message).toMatch(/did not answer within 600 ms/);
  });

  it('When a vendor API drips its reply, then the lister fails with 5002 instead of waiting for the end', async () => {
    server = await startFakeHttpServer((_req, res) => drip(res, 6000));
    const lister = createImageLister({
      kind: 'harbor',
      options: {},
      target: { host: '127.0.0.1', port: server.port, isHttps: false },
      timeoutMs: 600,
    })!;

    const err = await collect(lister.listImages(ctx)).catch((e: unknown) => e);

    expect(err).toBeInstanceOf(RegistryError);
    expect((err as Error).message).toMatch(/did not answer GET \/projects.* within 600 ms/);
  });
});

describe('reply size cap', () => {
  it('When a vendor API sends a reply over the API cap (8 MiB by default), then the lister stops reading and fails', async () => {
    // A valid project list, just too large: 9 MiB.
    const huge = JSON.stringify(Array.from({ length: 9 * 1024 * 16 }, (_, i) => ({ name: `p${i}`.padEnd(50, 'x') })));
    expect(huge.length).toBeGreaterThan(8 * 1024 * 1024);
    server = await startFakeHttpServer((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(huge);
    });

    const err = await collect(harborLister(server.port).listImages(ctx)).catch((e: unknown) => e);

    expect(err).toBeInstanceOf(RegistryError);
    expect((err as Error).message).toMatch(/reply larger than 8388608 bytes \(size cap\)/);
  });

  it('When a registry manifest is over the configured cap, then the registry client fails with 5002', async () => {
    server = await startFakeHttpServer((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' });
      res.end(Buffer.alloc(256 * 1024, 0x20));
    });
    const outbound = createOutbound({ ...DEFAULT_OUTBOUND, maxResponseBytes: 64 * 1024 });
    const client = createRegistryClient(
      { host: '127.0.0.1', port: server.port, isHttps: false },
      { timeoutMs: 2000, outbound },
    );

    await expect(client.getManifest('app', 'v1', ctx)).rejects.toThrow(/larger than 65536 bytes \(size cap\)/);
  });
});

describe('environment proxies', () => {
  const saved = { ...process.env };
  afterEach(() => {
    for (const k of ['HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy', 'NO_PROXY', 'no_proxy'])
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
  });

  it('When HTTP_PROXY is set, then vendor and Clair calls still go straight to their target', async () => {
    const proxy = await startFakeHttpServer((_req, res) => sendJson(res, 502, { proxied: true }));
    server = await startFakeHttpServer((req, res, url) => {
      if (url.pathname === '/healthz') return sendJson(res, 200, {});
      harborHandler(req, res, url);
    });
    try {
      for (const k of ['HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy']) process.env[k] = proxy.baseUrl;
      delete process.env.NO_PROXY;
      delete process.env.no_proxy;

      const images = await collect(harborLister(server.port).listImages(ctx));
      const clair = new ClairHttp({ version: 'v4', baseUrl: server.baseUrl, timeoutMs: 2000, indexTimeoutMs: 2000 });
      const reply = await clair.call(ctx, { method: 'GET', path: '/healthz', what: 'ping' });

      expect(images).toEqual([{ image: 'team/app', tags: ['v1'] }]);
      expect(reply.status).toBe(200);
      expect(proxy.requests).toHaveLength(0);
      expect(server.requests.map((r) => r.url)).toContain('/healthz');
    } finally {
      await proxy.close();
    }
  });
});

describe('per-target TLS for vendor listers', () => {
  const cert = makeSelfSignedCert();
  let tls: https.Server;
  let port: number;
  beforeAll(async () => {
    tls = https.createServer({ cert: cert.certPem, key: cert.keyPem }, (req, res) =>
      harborHandler(req, res, new URL(req.url ?? '/', 'https://127.0.0.1')),
    );
    await new Promise<void>((resolve) => tls.listen(0, '127.0.0.1', resolve));
    port = (tls.address() as AddressInfo).port;
  });
  afterAll(async () => {
    tls.closeAllConnections();
    await new Promise((resolve) => tls.close(resolve));
  });

  it('When the registry sets skipTlsVerify, then its Harbor lister accepts the self-signed certificate', async () => {
    const images = await collect(harborLister(port, { isHttps: true, skipTlsVerify: true }).listImages(ctx));
    expect(images).toEqual([{ image: 'team/app', tags: ['v1'] }]);
  });

  it('When skipTlsVerify is off, then the Harbor lister refuses the self-signed certificate with 5002', async () => {
    const err = await collect(harborLister(port, { isHttps: true }).listImages(ctx)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RegistryError);
    expect((err as Error).message).toMatch(/TLS verification failed .*set skipTlsVerify/);
  });
});
