import { createClairClient, type ClairClient, type Finding, type ScanInput } from '../../src/clients/clair';
import { ScannerError } from '../../src/errors/app-error';
import type { Ctx } from '../../src/http/context';
import { createLogger } from '../../src/logger';
import { buildLayer, debianLayer, pushImage, sha256 } from '../helpers/oci-image';
import { freePort, startRegistry, type RegistryProcess } from '../helpers/registry-process';
import { DEBIAN_PACKAGES, DEBIAN_TRACKER } from '../fixtures/clair/debian-packages';

const PACKAGES = DEBIAN_PACKAGES;

const TRACKER = DEBIAN_TRACKER;
const finding = (f: Omit<Finding, 'description' | 'versionFormat'>) => ({ ...f, versionFormat: 'dpkg' });

/** What Clair must report for PACKAGES: not bash (installed ≥ fixed) and not tar (fixed_in_version "0"). */
const EXPECTED = [
  finding({
    cveId: 'CVE-2023-45853',
    level: 'Critical',
    type: 'zlib1g',
    version: '1:1.2.13.dfsg-1',
    fixedBy: '',
    link: `${TRACKER}CVE-2023-45853`,
  }),
  finding({
    cveId: 'CVE-2024-0727',
    level: 'High',
    type: 'libssl3',
    version: '3.0.11-1~deb12u2',
    fixedBy: '3.0.13-1~deb12u1',
    link: `${TRACKER}CVE-2024-0727`,
  }),
  finding({
    cveId: 'CVE-2023-5678',
    level: 'Medium',
    type: 'libssl3',
    version: '3.0.11-1~deb12u2',
    fixedBy: '',
    link: `${TRACKER}CVE-2023-5678`,
  }),
  finding({
    cveId: 'CVE-2010-4756',
    level: 'Low',
    type: 'libc6',
    version: '2.36-9+deb12u3',
    fixedBy: '',
    link: `${TRACKER}CVE-2010-4756`,
  }),
  // Named DLA-3600-1 in the data: the CVE id comes from its links, the link stays the first one.
  finding({
    cveId: 'CVE-2023-4911',
    level: 'Negligible',
    type: 'libc6',
    version: '2.36-9+deb12u3',
    fixedBy: '',
    link: `${TRACKER}DLA-3600-1`,
  }),
  finding({
    cveId: 'CVE-2016-2781',
    level: 'Unknown',
    type: 'coreutils',
    version: '8.32-4.1',
    fixedBy: '9.1-1',
    link: `${TRACKER}CVE-2016-2781`,
  }),
];

const ctx: Ctx = { log: createLogger(process.env.TEST_LOG_LEVEL || 'silent') };
const withoutDescription = (fs: Finding[]) => fs.map(({ description: _d, ...f }) => f);

function inputFor(
  registry: RegistryProcess,
  name: string,
  pushed: { digest: string; layers: Array<{ digest: string }> },
  headers: Record<string, string> = {},
): ScanInput {
  return {
    manifestDigest: pushed.digest,
    layers: pushed.layers.map((l) => ({
      digest: l.digest,
      uri: `${registry.url}/v2/${name}/blobs/${l.digest}`,
      headers,
    })),
  };
}

describe('Clair v4 client against a real Clair', () => {
  let registry: RegistryProcess;
  let clair: ClairClient;

  beforeAll(async () => {
    registry = await startRegistry();
    clair = createClairClient({
      version: 'v4',
      baseUrl: process.env.CLAIR_TEST_URL!,
      timeoutMs: 10_000,
      indexTimeoutMs: 60_000,
      retry: { baseDelayMs: 200 },
    });
  });
  afterAll(async () => {
    await registry.stop();
  });

  it('When a Debian 12 image is scanned, then the findings are exactly those of the fixture that apply', async () => {
    const pushed = await pushImage(registry.url, 'demo/debian', ['12'], [debianLayer(PACKAGES)]);

    const report = await clair.scan(inputFor(registry, 'demo/debian', pushed), ctx);

    expect(report.manifestDigest).toBe(pushed.digest);
    expect(report.namespace).toBe('debian:12');
    expect(report.packages).toBe(PACKAGES.length);
    expect(withoutDescription(report.findings)).toEqual(EXPECTED);
    expect(report.findings.find((f) => f.type === 'zlib1g')?.description).toMatch(/MiniZip/);

    // Re-reading the report needs no new index run and gives the same answer.
    expect(await clair.report!(pushed.digest, ctx)).toEqual(report);
  });

  it('When the indexer state is asked for, then it is a non-empty string', async () => {
    expect(await clair.indexState!(ctx)).toMatch(/^\S+$/);
    expect(await clair.ping(ctx)).toBe(true);
  });

  it('When a digest was never indexed, then report() returns null', async () => {
    expect(await clair.report!(sha256('never indexed'), ctx)).toBeNull();
  });

  it('When a layer blob is missing from the registry, then the scan fails with Clair’s reason', async () => {
    const present = debianLayer([{ name: 'bash', version: '5.2.15-2+b2' }]);
    const missing = buildLayer({ 'etc/': '', 'etc/hostname': 'missing\n' });
    const pushed = await pushImage(registry.url, 'demo/missing', ['1'], [present]);
    const input = inputFor(registry, 'demo/missing', pushed);
    input.manifestDigest = sha256(`missing-layer-${Date.now()}`);
    input.layers.push({
      digest: missing.digest,
      uri: `${registry.url}/v2/demo/missing/blobs/${missing.digest}`,
      headers: {},
    });

    const err = await clair.scan(input, ctx).catch((e: unknown) => e);

    expect(err).toBeInstanceOf(ScannerError);
    expect((err as ScannerError).code).toBe(5001);
    expect((err as ScannerError).message).toMatch(
      new RegExp(`Clair could not index image ${input.manifestDigest}: .+`),
    );
    expect((err as ScannerError).message).toMatch(/404|not found|fetch/i);
  });

  it('When Clair is not listening, then the error is a 5001 naming the URL', async () => {
    const url = `http://127.0.0.1:${await freePort()}`;
    const dead = createClairClient({ version: 'v4', baseUrl: url, timeoutMs: 2000, indexTimeoutMs: 2000 });

    const err = await dead
      .scan(
        { manifestDigest: sha256('x'), layers: [{ digest: sha256('y'), uri: 'http://127.0.0.1:1/', headers: {} }] },
        ctx,
      )
      .catch((e: unknown) => e);

    expect(err).toBeInstanceOf(ScannerError);
    expect((err as ScannerError).code).toBe(5001);
    expect((err as ScannerError).httpStatus).toBe(502);
    expect((err as ScannerError).message).toBe(
      `cannot reach Clair at ${url}: connection refused — is it running? check CLAIR_URL`,
    );
    expect(await dead.ping(ctx)).toBe(false);
  });
});

describe('Clair v4 client with a registry that needs basic auth', () => {
  const user = { username: 'scanner', password: 's3cret-pass' };
  const authorization = `Basic ${Buffer.from(`${user.username}:${user.password}`).toString('base64')}`;
  let registry: RegistryProcess;
  let clair: ClairClient;

  beforeAll(async () => {
    registry = await startRegistry({ htpasswd: user });
    clair = createClairClient({
      version: 'v4',
      baseUrl: process.env.CLAIR_TEST_URL!,
      timeoutMs: 10_000,
      indexTimeoutMs: 60_000,
      retry: { baseDelayMs: 200 },
    });
  });
  afterAll(async () => {
    await registry.stop();
  });

  it('When the layer headers carry the credentials, then Clair fetches the layers and the scan succeeds', async () => {
    const layer = debianLayer([
      { name: 'zlib1g', version: '1:1.2.13.dfsg-1' },
      { name: 'bash', version: '5.2.15-2+b2' },
    ]);
    const pushed = await pushImage(registry.url, 'private/app', ['1'], [layer], { auth: { authorization } });

    const report = await clair.scan(inputFor(registry, 'private/app', pushed, { Authorization: authorization }), ctx);

    expect(report.namespace).toBe('debian:12');
    expect(report.packages).toBe(2);
    expect(report.findings.map((f) => [f.cveId, f.type])).toEqual([['CVE-2023-45853', 'zlib1g']]);
  });

  it('When the credentials are left out, then the scan fails with a ScannerError that names the fetch failure', async () => {
    const layer = debianLayer([{ name: 'tar', version: '1.34+dfsg-1.2' }]);
    const pushed = await pushImage(registry.url, 'private/noauth', ['1'], [layer], { auth: { authorization } });

    const err = await clair.scan(inputFor(registry, 'private/noauth', pushed), ctx).catch((e: unknown) => e);

    expect(err).toBeInstanceOf(ScannerError);
    expect((err as ScannerError).message).toMatch(/401|unauthori[sz]ed/i);
  });
});
