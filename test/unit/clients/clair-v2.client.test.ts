import { createHash } from 'node:crypto';
import { createClairClient, type ScanInput } from '../../../src/clients/clair';
import { v2LayerName } from '../../../src/clients/clair/clair-v2.client';
import { ScannerError } from '../../../src/errors/app-error';
import { createLogger } from '../../../src/logger';
import { startFakeHttp, type FakeHttp, type FakeReply, type RecordedRequest } from '../../helpers/fake-http';

/*
 * Clair v2 cannot run here, so this is a faithful fake of its API v1 (quay/clair v2.1.8
 * api/v1/routes.go; protocols.md §2): POST /v1/layers → 201 {"Layer":…} (400 for a bad body or an
 * unknown parent, 422 for an unextractable layer, 500 on server errors); GET
 * /v1/layers/{name}?features&vulnerabilities → 200 {"Layer":{…Features}} or 404; errors
 * {"Error":{"Message"}}.
 */
interface StoredLayer {
  Name: string;
  Path: string;
  ParentName: string;
  Format: string;
  Headers?: Record<string, string>;
}

function fakeClairV2(features: (layers: StoredLayer[]) => unknown[]) {
  const layers = new Map<string, StoredLayer>();
  const error = (status: number, Message: string): FakeReply => ({ status, body: { Error: { Message } } });
  return (req: RecordedRequest): FakeReply => {
    const url = new URL(req.url, 'http://x');
    if (req.method === 'POST' && url.pathname === '/v1/layers') {
      let body: { Layer?: StoredLayer };
      try {
        body = JSON.parse(req.body);
      } catch {
        return error(400, 'json: cannot unmarshal');
      }
      const l = body.Layer;
      if (!l?.Name || !l.Path) return error(400, 'failed to decode JSON: missing Layer');
      if (l.Format?.toLowerCase() !== 'docker') return error(400, 'unsupported image format');
      if (l.ParentName && !layers.has(l.ParentName))
        return error(400, 'worker: parent layer is unknown, it must be processed first');
      layers.set(l.Name, l);
      return { status: 201, body: { Layer: { ...l, IndexedByVersion: 3 } } };
    }
    const m = /^\/v1\/layers\/([^/]+)$/.exec(url.pathname);
    if (req.method === 'GET' && m) {
      const top = layers.get(decodeURIComponent(m[1]!));
      if (!top) return error(404, 'the resource cannot be found');
      const chain: StoredLayer[] = [];
      for (let l: StoredLayer | undefined = top; l; l = layers.get(l.ParentName)) chain.unshift(l);
      // Presence-only flags: without them v2 leaves Features out.
      const withFeatures = url.searchParams.has('features') && url.searchParams.has('vulnerabilities');
      return {
        status: 200,
        body: {
          Layer: {
            Name: top.Name,
            NamespaceName: 'debian:8',
            ParentName: top.ParentName,
            IndexedByVersion: 3,
            ...(withFeatures ? { Features: features(chain) } : {}),
          },
        },
      };
    }
    return error(404, 'the resource cannot be found');
  };
}

const ctx = { log: createLogger('silent') };
const d = (s: string) => `sha256:${createHash('sha256').update(s).digest('hex')}`;

const FEATURES = [
  {
    Name: 'coreutils',
    NamespaceName: 'debian:8',
    VersionFormat: 'dpkg',
    Version: '8.23-4',
    AddedBy: 'x',
    Vulnerabilities: [
      {
        Name: 'CVE-2014-9471',
        NamespaceName: 'debian:8',
        Description: 'parse_datetime in coreutils',
        Link: 'https://security-tracker.debian.org/tracker/CVE-2014-9471',
        Severity: 'Defcon1',
        FixedBy: '9.23-5',
        Metadata: { NVD: { CVSSv2: { Score: 7.5, Vectors: 'AV:N/AC:L/Au:N/C:P/I:P' } } },
      },
    ],
  },
  {
    Name: 'bash',
    NamespaceName: 'debian:8',
    VersionFormat: 'dpkg',
    Version: '4.3-11',
    AddedBy: 'y',
    Vulnerabilities: [{ Name: 'CVE-2019-18276', Link: 'https://x/CVE-2019-18276', Severity: 'Low' }],
  },
  { Name: 'zlib1g', NamespaceName: 'debian:8', VersionFormat: 'dpkg', Version: '1:1.2.8.dfsg-2', AddedBy: 'y' },
];

describe('Clair v2 client (against a faithful fake of the v2 API)', () => {
  let fake: FakeHttp;
  const input: ScanInput = {
    manifestDigest: d('manifest'),
    layers: ['base', 'middle', 'top'].map((n) => ({
      digest: d(n),
      uri: `http://registry:5000/v2/demo/blobs/${d(n)}`,
      headers: { Authorization: 'Bearer tok' },
    })),
  };
  const client = () =>
    createClairClient({
      version: 'v2',
      baseUrl: fake.url,
      timeoutMs: 2000,
      indexTimeoutMs: 2000,
      retry: { baseDelayMs: 10, attempts: 3 },
    });

  beforeEach(async () => {
    fake = await startFakeHttp();
  });
  afterEach(async () => {
    await fake.close();
  });

  it('When an image is scanned, then layers go base first chained by ParentName and the top layer is read', async () => {
    fake.handle(fakeClairV2(() => FEATURES));

    const report = await client().scan(input, ctx);

    const posts = fake.requests.filter((r) => r.method === 'POST').map((r) => JSON.parse(r.body).Layer);
    const names = input.layers.map((l) => v2LayerName(input.manifestDigest, l.digest));
    expect(posts).toEqual([
      {
        Name: names[0],
        Path: input.layers[0]!.uri,
        Headers: { Authorization: 'Bearer tok' },
        ParentName: '',
        Format: 'Docker',
      },
      {
        Name: names[1],
        Path: input.layers[1]!.uri,
        Headers: { Authorization: 'Bearer tok' },
        ParentName: names[0],
        Format: 'Docker',
      },
      {
        Name: names[2],
        Path: input.layers[2]!.uri,
        Headers: { Authorization: 'Bearer tok' },
        ParentName: names[1],
        Format: 'Docker',
      },
    ]);
    expect(fake.requests.at(-1)).toMatchObject({
      method: 'GET',
      url: `/v1/layers/${names[2]}?features&vulnerabilities`,
    });
    expect(report).toEqual({
      manifestDigest: input.manifestDigest,
      namespace: 'debian:8',
      packages: 3,
      findings: [
        {
          cveId: 'CVE-2014-9471',
          description: 'parse_datetime in coreutils',
          link: 'https://security-tracker.debian.org/tracker/CVE-2014-9471',
          level: 'Critical',
          type: 'coreutils',
          version: '8.23-4',
          versionFormat: 'dpkg',
          fixedBy: '9.23-5',
        },
        {
          cveId: 'CVE-2019-18276',
          description: '',
          link: 'https://x/CVE-2019-18276',
          level: 'Low',
          type: 'bash',
          version: '4.3-11',
          versionFormat: 'dpkg',
          fixedBy: '',
        },
      ],
    });
  });

  it('When the same blob is in two images, then its v2 layer names differ', () => {
    expect(v2LayerName(d('image-a'), d('layer'))).not.toBe(v2LayerName(d('image-b'), d('layer')));
    expect(v2LayerName(d('image-a'), d('layer'))).toMatch(/^[a-f0-9]{64}$/);
  });

  it('When Clair answers 422, then the scan fails with its message and the layer is not retried', async () => {
    fake.handle(() => ({ status: 422, body: { Error: { Message: 'could not extract the layer' } } }));

    const err = await client()
      .scan(input, ctx)
      .catch((e: unknown) => e);

    expect(err).toBeInstanceOf(ScannerError);
    expect((err as ScannerError).message).toMatch(
      /^Clair could not analyse layer 1\/3 .*: could not extract the layer$/,
    );
    expect(fake.requests).toHaveLength(1);
  });

  it('When Clair answers 500 twice, then the layer is retried and the scan succeeds', async () => {
    const real = fakeClairV2(() => FEATURES);
    fake.handle((req, n) => (n <= 2 ? { status: 500, body: { Error: { Message: 'database is locked' } } } : real(req)));

    const report = await client().scan(input, ctx);

    expect(report.findings).toHaveLength(2);
    expect(fake.requests.filter((r) => r.method === 'POST')).toHaveLength(5);
  });

  it('When Clair keeps answering 500, then the scan fails after the bounded retries with its message', async () => {
    fake.handle(() => ({ status: 500, body: { Error: { Message: 'database is locked' } } }));

    const err = await client()
      .scan(input, ctx)
      .catch((e: unknown) => e);

    expect((err as ScannerError).message).toMatch(/after 3 tries: database is locked$/);
    expect(fake.requests).toHaveLength(3);
  });

  it('When Clair lists namespaces, then ping is true; when it does not answer, false', async () => {
    fake.handle(() => ({ status: 200, body: { Namespaces: [{ Name: 'debian:8', VersionFormat: 'dpkg' }] } }));
    expect(await client().ping(ctx)).toBe(true);
    await fake.close();
    expect(await client().ping(ctx)).toBe(false);
    fake = await startFakeHttp();
  });
});
