import { RegistryError } from '../../errors/app-error';
import type { Ctx } from '../../http/context';

/** A manifest whose media type is neither an image manifest nor an index: that tag cannot be scanned. */
export class UnsupportedMediaTypeError extends RegistryError {}

/** Where and how to reach one registry's Docker Registry HTTP API v2. */
export interface RegistryTarget {
  host: string;
  port: number;
  isHttps: boolean;
  /** Explicit per-registry opt-in for self-signed certificates. */
  skipTlsVerify?: boolean;
  /** Present when the registry uses authentication (basic or bearer-token). */
  credentials?: { username: string; password: string };
}

/** A manifest fetched by tag or digest, verified against Docker-Content-Digest / the requested digest. */
export interface FetchedManifest {
  digest: string;
  mediaType: string;
  /** Parsed JSON body: an image manifest or an index/manifest list. */
  manifest: ImageManifest | ImageIndex;
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  urls?: string[];
  platform?: { os: string; architecture: string; variant?: string; 'os.version'?: string };
  annotations?: Record<string, string>;
}

export interface ImageManifest {
  kind: 'image';
  schemaVersion: 2;
  mediaType?: string;
  config: Descriptor;
  layers: Descriptor[];
}

export interface ImageIndex {
  kind: 'index';
  schemaVersion: 2;
  mediaType?: string;
  manifests: Descriptor[];
}

export interface ImageConfig {
  os: string;
  architecture: string;
  variant?: string;
  created?: string;
}

/**
 * Docker Registry HTTP API v2 client for one registry. Every method throws RegistryError (5002)
 * with a reason a person can act on (DNS failure, connection refused, TLS failure, bad
 * credentials, not a registry, timeout); "not found" answers throw NotFoundError (5004).
 */
export interface RegistryClient {
  readonly target: RegistryTarget;
  /** `GET /v2/`, including the bearer-token exchange when the registry asks for one. */
  ping(ctx: Ctx): Promise<void>;
  /** Every repository name from `_catalog`, following `Link` paging. */
  listRepositories(ctx: Ctx): AsyncIterable<string>;
  /** Every tag of a repository, following `Link` paging. */
  listTags(name: string, ctx: Ctx): AsyncIterable<string>;
  /** A manifest by tag or digest, with schema 2 / OCI / list / index in Accept. */
  getManifest(name: string, reference: string, ctx: Ctx): Promise<FetchedManifest>;
  /**
   * `HEAD` of a manifest: the digest the reference points at (Docker-Content-Digest, null when the
   * registry does not send one) and the media type, without the body.
   */
  headManifest(name: string, reference: string, ctx: Ctx): Promise<{ digest: string | null; mediaType: string | null }>;
  /** The image config blob (os, architecture, created). */
  getImageConfig(name: string, configDigest: string, ctx: Ctx): Promise<ImageConfig>;
  /** Absolute URL of a blob, for a scanner that fetches layers itself. */
  blobUrl(name: string, digest: string): string;
  /**
   * Headers a scanner must send to fetch blobs of `name` (Authorization: Basic … or Bearer …),
   * with a token valid for at least `minValiditySeconds`. Empty for anonymous registries.
   */
  pullHeaders(name: string, ctx: Ctx, minValiditySeconds?: number): Promise<Record<string, string>>;
}
