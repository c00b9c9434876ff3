import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** A free TCP port on 127.0.0.1 (closed again before returning). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export interface RegistryProcessOptions {
  /** htpasswd basic auth with one user. */
  htpasswd?: { username: string; password: string };
  /** Bearer-token auth: the registry trusts tokens signed by the key of `rootCertBundle` (PEM file path). */
  token?: { realm: string; service: string; issuer: string; rootCertBundle: string };
  /**
   * Distribution notification endpoint(s) (distribution docs/configuration.md#notifications):
   * timeout, threshold (failures before backing off) and backoff default to 2s, 5 and 1s.
   */
  notifications?: Array<{
    name: string;
    url: string;
    headers?: Record<string, string[]>;
    timeout?: string;
    threshold?: number;
    backoff?: string;
  }>;
}

export interface RegistryProcess {
  host: string;
  port: number;
  /** http://127.0.0.1:<port> */
  url: string;
  dir: string;
  stop(): Promise<void>;
}

/** Starts Debian's `docker-registry` (distribution 2.8) on a free loopback port with its own storage. */
export async function startRegistry(opts: RegistryProcessOptions = {}): Promise<RegistryProcess> {
  const port = await freePort();
  const dir = mkdtempSync(path.join(tmpdir(), 'vulnscan-registry-'));
  const lines = [
    'version: 0.1',
    'log: { level: error }',
    'storage:',
    `  filesystem: { rootdirectory: ${JSON.stringify(path.join(dir, 'data'))} }`,
    '  delete: { enabled: true }',
    'http:',
    `  addr: 127.0.0.1:${port}`,
    '  secret: test-secret-not-for-production',
  ];
  if (opts.htpasswd) {
    const hp = spawnSync('htpasswd', ['-Bbn', opts.htpasswd.username, opts.htpasswd.password], { encoding: 'utf8' });
    if (hp.status !== 0) throw new Error(`htpasswd failed: ${hp.stderr}`);
    const file = path.join(dir, 'htpasswd');
    writeFileSync(file, hp.stdout);
    lines.push('auth:', `  htpasswd: { realm: test-realm, path: ${JSON.stringify(file)} }`);
  } else if (opts.token) {
    const t = opts.token;
    lines.push(
      'auth:',
      '  token:',
      `    realm: ${JSON.stringify(t.realm)}`,
      `    service: ${JSON.stringify(t.service)}`,
      `    issuer: ${JSON.stringify(t.issuer)}`,
      `    rootcertbundle: ${JSON.stringify(t.rootCertBundle)}`,
    );
  }
  if (opts.notifications?.length) {
    lines.push('notifications:', '  endpoints:');
    for (const n of opts.notifications) {
      lines.push(
        `    - name: ${n.name}`,
        `      url: ${JSON.stringify(n.url)}`,
        `      headers: ${JSON.stringify(n.headers ?? {})}`,
        `      timeout: ${n.timeout ?? '2s'}`,
        `      threshold: ${n.threshold ?? 5}`,
        `      backoff: ${n.backoff ?? '1s'}`,
      );
    }
  }
  const config = path.join(dir, 'config.yml');
  writeFileSync(config, `${lines.join('\n')}\n`);
  const child = spawn('docker-registry', ['serve', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  const stderr: string[] = [];
  child.stderr?.on('data', (b: Buffer) => stderr.push(b.toString()));
  const url = `http://127.0.0.1:${port}`;
  await waitUntilUp(url, child, stderr);
  return { host: '127.0.0.1', port, url, dir, stop: () => stopProcess(child) };
}

async function waitUntilUp(url: string, child: ChildProcess, stderr: string[]): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`docker-registry exited: ${stderr.join('')}`);
    try {
      const res = await fetch(`${url}/v2/`);
      if (res.status === 200 || res.status === 401) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`docker-registry did not start: ${stderr.join('')}`);
}

export function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}
