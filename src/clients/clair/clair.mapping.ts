import { LEVEL_NAMES, LEVEL_RANK, normaliseLevel, type LevelName } from '../../domain/severity';
import type { Finding, ScanReport } from './clair.types';
import type { V2LayerEnvelope, V4Distribution, V4Environment, V4VulnerabilityReport } from './clair.schemas';

const CVE_ID = /^CVE-\d{4}-\d+$/i;
const CVE_IN_TEXT = /CVE-\d{4}-\d+/i;

/** The CVE id of a vulnerability: its name when that is one, else the first CVE id in its links, else its name. */
export function cveIdOf(name: string, links: readonly string[]): string {
  if (CVE_ID.test(name)) return name.toUpperCase();
  for (const l of links) {
    const m = CVE_IN_TEXT.exec(l);
    if (m) return m[0].toUpperCase();
  }
  return name;
}

/** v4 `links` is one space-separated string. */
export function splitLinks(links: string | null | undefined): string[] {
  return (links ?? '').split(/\s+/).filter(Boolean);
}

/** Capitalised level for any scanner severity (Defcon1 → Critical, unknown words → Unknown). */
export function levelNameOf(severity: string | null | undefined): LevelName {
  return LEVEL_NAMES[normaliseLevel(severity)];
}

const LEVEL_RANK_BY_NAME = Object.fromEntries(
  Object.entries(LEVEL_NAMES).map(([level, name]) => [name, LEVEL_RANK[level as keyof typeof LEVEL_RANK]]),
) as Record<LevelName, number>;

/**
 * Drops repeated (cveId, package, version) findings, keeping the most severe (then the one with a
 * fix), and sorts by severity, CVE id and package so that reports compare equal across runs.
 * Repeats are normal: a Debian DSA and its CVE, or a binary and its source package, name the same issue.
 */
export function dedupeFindings(findings: readonly Finding[]): Finding[] {
  const byKey = new Map<string, Finding>();
  for (const f of findings) {
    const key = `${f.cveId}\u0000${f.type}\u0000${f.version}`;
    const seen = byKey.get(key);
    if (
      !seen ||
      LEVEL_RANK_BY_NAME[f.level] > LEVEL_RANK_BY_NAME[seen.level] ||
      (f.level === seen.level && !seen.fixedBy && f.fixedBy)
    )
      byKey.set(key, f);
  }
  return [...byKey.values()].sort(
    (a, b) =>
      LEVEL_RANK_BY_NAME[b.level] - LEVEL_RANK_BY_NAME[a.level] ||
      a.cveId.localeCompare(b.cveId) ||
      a.type.localeCompare(b.type) ||
      a.version.localeCompare(b.version),
  );
}

// Package managers by os-release ID (claircore distribution `did`).
const FORMAT_BY_DISTRIBUTION: Record<string, string> = {
  debian: 'dpkg',
  ubuntu: 'dpkg',
  rhel: 'rpm',
  centos: 'rpm',
  fedora: 'rpm',
  rocky: 'rpm',
  almalinux: 'rpm',
  ol: 'rpm',
  amzn: 'rpm',
  photon: 'rpm',
  sles: 'rpm',
  'opensuse-leap': 'rpm',
  suse: 'rpm',
  alpine: 'apk',
};

/** Version format from the package database path when the distribution does not say (e.g. language packages). */
function formatOfPackageDb(db: string): string {
  if (db.includes('dpkg')) return 'dpkg';
  if (db.includes('rpm')) return 'rpm';
  if (db.includes('apk')) return 'apk';
  const scheme = /^([a-z0-9]+):/i.exec(db);
  return scheme ? scheme[1]!.toLowerCase() : '';
}

function versionFormatV4(envs: readonly V4Environment[], dists: Record<string, V4Distribution>): string {
  for (const e of envs) {
    const did = e.distribution_id ? dists[e.distribution_id]?.did : undefined;
    if (did && FORMAT_BY_DISTRIBUTION[did]) return FORMAT_BY_DISTRIBUTION[did];
  }
  for (const e of envs) {
    const f = e.package_db ? formatOfPackageDb(e.package_db) : '';
    if (f) return f;
  }
  return '';
}

function namespaceV4(dists: Record<string, V4Distribution>): string | null {
  // Several distributions are possible (a distro upgrade between layers); the lowest id is the first found.
  const ids = Object.keys(dists).sort((a, b) => Number(a) - Number(b) || a.localeCompare(b));
  for (const id of ids) {
    const d = dists[id]!;
    if (d.did) return d.version_id ? `${d.did}:${d.version_id}` : d.did;
  }
  return null;
}

/**
 * Clair v4 vulnerability report → ScanReport. `packages` counts binary packages: Clair may list a
 * source package next to its binaries, and one source (e.g. openssl) would otherwise count twice.
 */
export function mapV4Report(r: V4VulnerabilityReport): ScanReport {
  const packages = r.packages ?? {};
  const dists = r.distributions ?? {};
  const envs = r.environments ?? {};
  const vulns = r.vulnerabilities ?? {};
  const findings: Finding[] = [];
  for (const [pkgId, vulnIds] of Object.entries(r.package_vulnerabilities ?? {})) {
    const pkg = packages[pkgId];
    if (!pkg) continue;
    const versionFormat = versionFormatV4(envs[pkgId] ?? [], dists);
    for (const vid of vulnIds ?? []) {
      const v = vulns[vid];
      if (!v) continue;
      const links = splitLinks(v.links);
      findings.push({
        cveId: cveIdOf(v.name, links),
        description: v.description ?? '',
        link: links[0] ?? '',
        level: levelNameOf(v.normalized_severity),
        type: pkg.name,
        version: pkg.version ?? '',
        versionFormat,
        fixedBy: v.fixed_in_version ?? '',
      });
    }
  }
  const binaries = Object.values(packages).filter((p) => p.kind !== 'source');
  return {
    manifestDigest: r.manifest_hash,
    namespace: namespaceV4(dists),
    packages: new Set(binaries.map((p) => `${p.name}\u0000${p.version ?? ''}`)).size,
    findings: dedupeFindings(findings),
  };
}

/** Clair v2 top-layer report (`?features&vulnerabilities`) → ScanReport. */
export function mapV2Layer(manifestDigest: string, envelope: V2LayerEnvelope): ScanReport {
  const features = envelope.Layer.Features ?? [];
  const findings: Finding[] = [];
  for (const f of features) {
    for (const v of f.Vulnerabilities ?? []) {
      const links = v.Link ? [v.Link] : [];
      findings.push({
        cveId: cveIdOf(v.Name, links),
        description: v.Description ?? '',
        link: v.Link ?? '',
        level: levelNameOf(v.Severity),
        type: f.Name,
        version: f.Version ?? '',
        versionFormat: f.VersionFormat ?? '',
        fixedBy: v.FixedBy ?? '',
      });
    }
  }
  return {
    manifestDigest,
    namespace: envelope.Layer.NamespaceName || null,
    packages: new Set(features.map((f) => `${f.Name}\u0000${f.Version ?? ''}`)).size,
    findings: dedupeFindings(findings),
  };
}
