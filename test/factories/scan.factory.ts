import type { Finding, ScanReport } from '../../src/clients/clair';
import { DEFAULT_WEIGHTS, type Weights } from '../../src/domain/scoring';
import { createLogger } from '../../src/logger';
import { applySummary, storeReport } from '../../src/modules/scanner';
import { upsertResolved } from '../../src/modules/scanner/discovery';

const quiet = { log: createLogger('silent') };

/** A finding with realistic defaults. */
export function buildFinding(overrides: Partial<Finding> = {}): Finding {
  return {
    cveId: 'CVE-2023-0001',
    description: 'a vulnerability',
    link: 'https://security-tracker.debian.org/tracker/CVE-2023-0001',
    level: 'High',
    type: 'openssl',
    version: '3.0.11-1',
    versionFormat: 'dpkg',
    fixedBy: '',
    ...overrides,
  };
}

export function buildScanReport(digest: string, findings: Finding[], overrides: Partial<ScanReport> = {}): ScanReport {
  return { manifestDigest: digest, namespace: 'debian:12', packages: 100, findings, ...overrides };
}

export const digestOf = (n: number) => `sha256:${n.toString(16).padStart(64, 'a')}`;

/**
 * Seeds what a discovery plus a finished scan leave behind, through the real store functions:
 * the tags (upsertResolved), the digest's findings (storeReport) and the counts (applySummary).
 */
export async function seedScanned(
  registry: string,
  tags: Array<{ image: string; tag: string }>,
  report: ScanReport,
  weights: Weights = { ...DEFAULT_WEIGHTS },
) {
  const digest = report.manifestDigest;
  const now = new Date();
  await upsertResolved(
    registry,
    tags.map((t) => ({ ...t, platform: 'linux/amd64', digest, tagDigest: digest })),
    now,
  );
  const stored = await storeReport(digest, report, { batchSize: 50, now }, quiet);
  await applySummary(digest, stored.summary, weights, now);
  return stored;
}
