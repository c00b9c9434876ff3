import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';

export const MT = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayer: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
} as const;

export function sha256(b: Buffer | string): string {
  return `sha256:${createHash('sha256').update(b).digest('hex')}`;
}

/** Entries of a layer: files (path → content) and directories (path ending in '/'). */
export type LayerEntries = Record<string, string | Buffer>;

function tarHeader(name: string, size: number, type: '0' | '5'): Buffer {
  const h = Buffer.alloc(512, 0);
  if (Buffer.byteLength(name) > 100) throw new Error(`tar path too long: ${name}`);
  h.write(name, 0, 100, 'utf8');
  h.write(type === '5' ? '0000755\0' : '0000644\0', 100, 8, 'ascii');
  h.write('0000000\0', 108, 8, 'ascii');
  h.write('0000000\0', 116, 8, 'ascii');
  h.write(`${size.toString(8).padStart(11, '0')}\0`, 124, 12, 'ascii');
  h.write(`${(1_700_000_000).toString(8).padStart(11, '0')}\0`, 136, 12, 'ascii');
  h.write('        ', 148, 8, 'ascii');
  h.write(type, 156, 1, 'ascii');
  h.write('ustar\0', 257, 6, 'ascii');
  h.write('00', 263, 2, 'ascii');
  let sum = 0;
  for (const byte of h) sum += byte;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'ascii');
  return h;
}

/** A gzipped tar layer (ustar, deterministic) with its blob digest and uncompressed diff id. */
export function buildLayer(entries: LayerEntries): { blob: Buffer; digest: string; diffId: string; size: number } {
  const parts: Buffer[] = [];
  for (const [p, content] of Object.entries(entries)) {
    if (p.endsWith('/')) {
      parts.push(tarHeader(p, 0, '5'));
      continue;
    }
    const data = Buffer.isBuffer(content) ? content : Buffer.from(content);
    parts.push(tarHeader(p, data.length, '0'), data, Buffer.alloc((512 - (data.length % 512)) % 512, 0));
  }
  parts.push(Buffer.alloc(1024, 0));
  const tar = Buffer.concat(parts);
  const blob = gzipSync(tar);
  return { blob, digest: sha256(blob), diffId: sha256(tar), size: blob.length };
}

/** A Debian 12 layer: os-release, a dpkg status listing `packages`, and the dpkg info directory. */
export function debianLayer(packages: Array<{ name: string; version: string; source?: string }>) {
  const status = packages
    .map(
      (p) =>
        `Package: ${p.name}\nStatus: install ok installed\nArchitecture: amd64\n` +
        `${p.source ? `Source: ${p.source}\n` : ''}Version: ${p.version}\n`,
    )
    .join('\n');
  return buildLayer({
    'etc/': '',
    'etc/os-release':
      'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\n' +
      'VERSION="12 (bookworm)"\nVERSION_CODENAME=bookworm\nID=debian\n',
    'var/': '',
    'var/lib/': '',
    'var/lib/dpkg/': '',
    'var/lib/dpkg/info/': '',
    // The dpkg status file must end with a blank line or its last stanza is dropped.
    'var/lib/dpkg/status': `${status}\n`,
  });
}

export interface PushAuth {
  /** Value of the Authorization header to send (Basic … or Bearer …). */
  authorization?: string;
}

async function check(res: Response, what: string): Promise<Response> {
  if (!res.ok) throw new Error(`${what}: HTTP ${res.status} ${await res.text()}`);
  return res;
}

/** Uploads one blob with a monolithic POST + PUT (distribution's upload API). */
export async function pushBlob(base: string, name: string, blob: Buffer, auth: PushAuth = {}): Promise<string> {
  const digest = sha256(blob);
  const headers: Record<string, string> = auth.authorization ? { authorization: auth.authorization } : {};
  const start = await check(
    await fetch(`${base}/v2/${name}/blobs/uploads/`, { method: 'POST', headers }),
    `start upload ${name}`,
  );
  const location = new URL(start.headers.get('location')!, base);
  location.searchParams.set('digest', digest);
  await check(
    await fetch(location, {
      method: 'PUT',
      headers: { ...headers, 'content-type': 'application/octet-stream' },
      body: new Uint8Array(blob),
    }),
    `upload ${digest}`,
  );
  return digest;
}

/** PUTs a manifest (by tag or digest); returns its digest. */
export async function pushManifest(
  base: string,
  name: string,
  reference: string,
  manifest: object,
  mediaType: string,
  auth: PushAuth = {},
): Promise<string> {
  const body = JSON.stringify(manifest);
  const headers: Record<string, string> = { 'content-type': mediaType };
  if (auth.authorization) headers.authorization = auth.authorization;
  await check(
    await fetch(`${base}/v2/${name}/manifests/${reference}`, { method: 'PUT', headers, body }),
    `put manifest ${name}:${reference}`,
  );
  return sha256(body);
}

export interface PushedImage {
  digest: string;
  manifest: { config: { digest: string }; layers: Array<{ digest: string; size: number; mediaType: string }> };
  layers: Array<{ digest: string; size: number }>;
  configDigest: string;
}

/**
 * Pushes a single-platform image (config + layers + manifest) under each of `tags`.
 * `format` picks OCI or Docker schema 2 media types.
 */
export async function pushImage(
  base: string,
  name: string,
  tags: string[],
  layers: Array<{ blob: Buffer; diffId: string }>,
  opts: { platform?: { os: string; architecture: string }; format?: 'oci' | 'docker'; auth?: PushAuth } = {},
): Promise<PushedImage> {
  const oci = (opts.format ?? 'oci') === 'oci';
  const platform = opts.platform ?? { os: 'linux', architecture: 'amd64' };
  const config = Buffer.from(
    JSON.stringify({
      architecture: platform.architecture,
      os: platform.os,
      created: '2026-01-01T00:00:00Z',
      rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
      config: {},
    }),
  );
  const configDigest = await pushBlob(base, name, config, opts.auth);
  const layerDescs = [];
  for (const l of layers) {
    const digest = await pushBlob(base, name, l.blob, opts.auth);
    layerDescs.push({ mediaType: oci ? MT.ociLayerGzip : MT.dockerLayer, digest, size: l.blob.length });
  }
  const manifest = {
    schemaVersion: 2,
    mediaType: oci ? MT.ociManifest : MT.dockerManifest,
    config: { mediaType: oci ? MT.ociConfig : MT.dockerConfig, digest: configDigest, size: config.length },
    layers: layerDescs,
  };
  let digest = '';
  for (const tag of tags) digest = await pushManifest(base, name, tag, manifest, manifest.mediaType, opts.auth);
  if (!tags.length)
    digest = await pushManifest(base, name, sha256(JSON.stringify(manifest)), manifest, manifest.mediaType, opts.auth);
  return { digest, manifest, layers: layerDescs, configDigest };
}

/** Pushes an index (OCI) or manifest list (Docker) over already pushed platform manifests. */
export async function pushIndex(
  base: string,
  name: string,
  tag: string,
  entries: Array<{ digest: string; size: number; platform: { os: string; architecture: string; variant?: string } }>,
  opts: { format?: 'oci' | 'docker'; auth?: PushAuth } = {},
): Promise<string> {
  const oci = (opts.format ?? 'oci') === 'oci';
  const index = {
    schemaVersion: 2,
    mediaType: oci ? MT.ociIndex : MT.dockerList,
    manifests: entries.map((e) => ({
      mediaType: oci ? MT.ociManifest : MT.dockerManifest,
      digest: e.digest,
      size: e.size,
      platform: e.platform,
    })),
  };
  return pushManifest(base, name, tag, index, index.mediaType, opts.auth);
}
