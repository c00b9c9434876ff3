import type { Finding, ScanReport } from '../../src/clients/clair';
import type { Ctx } from '../../src/http/context';
import { createLogger } from '../../src/logger';
import { RegistryModel } from '../../src/modules/registries';
import { applySummary, storeReport } from '../../src/modules/scanner';
import { upsertResolved } from '../../src/modules/scanner/discovery';
import { recordScan } from '../../src/modules/vulnerabilities';

export const testCtx: Ctx = { log: createLogger(process.env.TEST_LOG_LEVEL || 'silent') };

export const WEIGHTS = { critical: 10, high: 9, medium: 5, low: 3, negligible: 2, unknown: 1 };

/** A finding with realistic defaults. */
export function buildFinding(overrides: Partial<Finding> = {}): Finding {
  return {
    cveId: 'CVE-2024-0001',
    description: 'a vulnerability',
    link: 'https://security-tracker.debian.org/tracker/CVE-2024-0001',
    level: 'High',
    type: 'openssl',
    version: '3.0.11-1',
    versionFormat: 'dpkg',
    fixedBy: '',
    ...overrides,
  };
}

export function buildScanReport(digest: string, findings: Finding[], packages = 100): ScanReport {
  return { manifestDigest: digest, namespace: 'debian:12', packages, findings };
}

export const digestOf = (n: number) => `sha256:${n.toString(16).padStart(64, '0')}`;

/** A registry document as POST /api/repository stores it (no process behind it: these tests never call it). */
export async function seedRegistry(host: string, port: number): Promise<string> {
  const key = `${host}:${port}`;
  await RegistryModel.create({ repository: host, port, key, aliasKey: key });
  return key;
}

/** Discovers tags through the real upsert (registry key, [image, tag, digest, platform?]). */
export async function discoverTags(
  key: string,
  tags: Array<{ image: string; tag: string; digest: string; platform?: string }>,
  seenAt = new Date(),
): Promise<void> {
  await upsertResolved(
    key,
    tags.map((t) => ({ ...t, platform: t.platform ?? 'linux/amd64', tagDigest: t.digest })),
    seenAt,
  );
}

/** Stores a scan of `digest` the way the worker does: findings, image summaries, history. */
export async function scanDigest(digest: string, findings: Finding[], now = new Date()): Promise<void> {
  const stored = await storeReport(digest, buildScanReport(digest, findings), { batchSize: 50, now }, testCtx);
  await applySummary(digest, stored.summary, WEIGHTS, now);
  await recordScan(digest, now);
}
