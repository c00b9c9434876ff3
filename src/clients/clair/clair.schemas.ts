import { z } from 'zod';

/*
 * Zod schemas of the Clair replies this client reads, listing only the fields it uses. Go nil maps
 * and slices arrive as null or are left out, so every map, list and optional string is nullish.
 */

const str = z.string().nullish();
const map = <T extends z.ZodType>(v: T) => z.record(z.string(), v).nullish();

// ---- Clair v4 (claircore JSON) ------------------------------------------------------------------

export const V4Package = z.object({ name: z.string(), version: str, kind: str });
export type V4Package = z.infer<typeof V4Package>;

export const V4Distribution = z.object({ did: str, version_id: str, name: str });
export type V4Distribution = z.infer<typeof V4Distribution>;

export const V4Environment = z.object({ package_db: str, distribution_id: str });
export type V4Environment = z.infer<typeof V4Environment>;

export const V4Vulnerability = z.object({
  name: z.string(),
  description: str,
  /** ONE string of space-separated URIs. */
  links: str,
  normalized_severity: str,
  severity: str,
  fixed_in_version: str,
});
export type V4Vulnerability = z.infer<typeof V4Vulnerability>;

export const V4VulnerabilityReport = z.object({
  manifest_hash: z.string(),
  packages: map(V4Package),
  distributions: map(V4Distribution),
  environments: map(z.array(V4Environment).nullish()),
  vulnerabilities: map(V4Vulnerability),
  package_vulnerabilities: map(z.array(z.string()).nullish()),
});
export type V4VulnerabilityReport = z.infer<typeof V4VulnerabilityReport>;

export const V4IndexReport = z.object({ manifest_hash: str, state: str, success: z.boolean().nullish(), err: str });
export type V4IndexReport = z.infer<typeof V4IndexReport>;

export const V4IndexState = z.object({ state: z.string().min(1) });

export const V4Error = z.object({ code: str, message: str });

// ---- Clair v2 (legacy, PascalCase, everything omitempty) ----------------------------------------

export const V2Vulnerability = z.object({
  Name: z.string(),
  Description: str,
  Link: str,
  Severity: str,
  FixedBy: str,
});
export type V2Vulnerability = z.infer<typeof V2Vulnerability>;

export const V2Feature = z.object({
  Name: z.string(),
  Version: str,
  VersionFormat: str,
  Vulnerabilities: z.array(V2Vulnerability).nullish(),
});
export type V2Feature = z.infer<typeof V2Feature>;

export const V2LayerEnvelope = z.object({
  Layer: z.object({ Name: z.string(), NamespaceName: str, Features: z.array(V2Feature).nullish() }),
});
export type V2LayerEnvelope = z.infer<typeof V2LayerEnvelope>;

export const V2Error = z.object({ Error: z.object({ Message: str }).nullish() });
