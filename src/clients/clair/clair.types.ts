import type { Ctx } from '../../http/context';
import type { LevelName } from '../../domain/severity';

/** A single-platform image for the scanner: manifest digest and layers, base first. */
export interface ScanInput {
  manifestDigest: string;
  layers: Array<{ digest: string; uri: string; headers: Record<string, string>; mediaType?: string }>;
}

/** One vulnerability in one package, in the shape the API stores (seed 000 field names). */
export interface Finding {
  /** CVE id; when the scanner's name is not one, taken from the links; else the scanner's name. */
  cveId: string;
  description: string;
  link: string;
  level: LevelName;
  /** Package name. */
  type: string;
  version: string;
  versionFormat: string;
  /** Fixed version, '' when there is no fix. */
  fixedBy: string;
}

export interface ScanReport {
  manifestDigest: string;
  /** OS of the image, e.g. `debian:12`; null when the scanner found none. */
  namespace: string | null;
  /** Number of packages the scanner found. */
  packages: number;
  findings: Finding[];
}

/**
 * A Clair client, v4 or legacy v2, chosen by configuration. Every method throws ScannerError
 * (5001; HTTP 504 on timeouts) with a message a person can act on.
 */
export interface ClairClient {
  readonly version: 'v4' | 'v2';
  /** True when Clair answers. */
  ping(ctx: Ctx): Promise<boolean>;
  /** Indexes the image (if needed) and returns its vulnerability report. */
  scan(input: ScanInput, ctx: Ctx): Promise<ScanReport>;
  /**
   * v4 only: re-reads the vulnerability report of an already indexed digest without re-indexing.
   * Returns null when Clair has no usable index report for it (re-index needed).
   */
  report?(manifestDigest: string, ctx: Ctx): Promise<ScanReport | null>;
  /** v4 only: the indexer state; when it changes, stored index reports may be stale. */
  indexState?(ctx: Ctx): Promise<string>;
}
