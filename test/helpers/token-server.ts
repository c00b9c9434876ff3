import { execFileSync } from 'node:child_process';
import { createPrivateKey, randomUUID, sign, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** A self-signed RSA certificate and key made with openssl in a temp dir (PEM files and contents). */
export function makeSelfSignedCert(cn = 'vulnscan-test'): {
  dir: string;
  certFile: string;
  certPem: string;
  keyPem: string;
} {
  const dir = mkdtempSync(path.join(tmpdir(), 'vulnscan-cert-'));
  const certFile = path.join(dir, 'cert.pem');
  const keyFile = path.join(dir, 'key.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      keyFile,
      '-out',
      certFile,
      '-days',
      '2',
      '-subj',
      `/CN=${cn}`,
      '-addext',
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
    ],
    { stdio: 'ignore' },
  );
  return { dir, certFile, certPem: readFileSync(certFile, 'utf8'), keyPem: readFileSync(keyFile, 'utf8') };
}

export interface TokenServer {
  /** Token endpoint URL (the registry's realm). */
  realm: string;
  service: string;
  issuer: string;
  /** PEM file the registry trusts (auth.token.rootcertbundle). */
  rootCertBundle: string;
  /** Every token request: the scopes asked and whether the credentials were right. */
  requests: Array<{ scopes: string[]; service: string | null; authorized: boolean }>;
  /** Lifetime of the tokens issued from now on. */
  setExpiresIn(seconds: number): void;
  stop(): Promise<void>;
}

const b64url = (b: Buffer | string) => Buffer.from(b).toString('base64url');

/**
 * A Docker token server (distribution's token auth spec) on a free loopback port: it checks Basic
 * credentials and issues RS256 JWTs, signed with a self-made key whose certificate rides in `x5c`,
 * granting every scope asked. Wrong or missing credentials get 401.
 */
export async function startTokenServer(user: { username: string; password: string }): Promise<TokenServer> {
  const cert = makeSelfSignedCert('vulnscan-token-issuer');
  const key = createPrivateKey(cert.keyPem);
  const der = new X509Certificate(cert.certPem).raw.toString('base64');
  const service = 'vulnscan-test-registry';
  const issuer = 'vulnscan-test-issuer';
  let expiresIn = 300;
  const requests: TokenServer['requests'] = [];

  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const scopes = url.searchParams.getAll('scope');
    const expected = `Basic ${Buffer.from(`${user.username}:${user.password}`).toString('base64')}`;
    const authorized = req.headers.authorization === expected;
    requests.push({ scopes, service: url.searchParams.get('service'), authorized });
    if (url.pathname !== '/token') {
      res.writeHead(404).end();
      return;
    }
    if (!authorized) {
      res.writeHead(401, { 'content-type': 'application/json' }).end('{"details":"bad credentials"}');
      return;
    }
    const access = scopes.map((s) => {
      // The name may hold a ':' (a host port): split on the first and last ':'.
      const first = s.indexOf(':');
      const last = s.lastIndexOf(':');
      return { type: s.slice(0, first), name: s.slice(first + 1, last), actions: s.slice(last + 1).split(',') };
    });
    const now = Math.floor(Date.now() / 1000);
    const header = { alg: 'RS256', typ: 'JWT', x5c: [der] };
    const claims = {
      iss: issuer,
      sub: user.username,
      aud: url.searchParams.get('service') ?? service,
      exp: now + expiresIn,
      nbf: now - 10,
      iat: now,
      jti: randomUUID(),
      access,
    };
    const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
    const token = `${input}.${b64url(sign('RSA-SHA256', Buffer.from(input), key))}`;
    res
      .writeHead(200, { 'content-type': 'application/json' })
      .end(JSON.stringify({ token, access_token: token, expires_in: expiresIn, issued_at: new Date().toISOString() }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    realm: `http://127.0.0.1:${port}/token`,
    service,
    issuer,
    rootCertBundle: cert.certFile,
    requests,
    setExpiresIn(seconds) {
      expiresIn = seconds;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
