import { cveIdOf, dedupeFindings, mapV2Layer, mapV4Report } from '../../../src/clients/clair/clair.mapping';
import { V2LayerEnvelope, V4VulnerabilityReport } from '../../../src/clients/clair/clair.schemas';
import type { Finding } from '../../../src/clients/clair/clair.types';

const DIGEST = `sha256:${'a'.repeat(64)}`;

const finding = (over: Partial<Finding>): Finding => ({
  cveId: 'CVE-2024-1',
  description: '',
  link: '',
  level: 'Low',
  type: 'pkg',
  version: '1',
  versionFormat: 'dpkg',
  fixedBy: '',
  ...over,
});

describe('cveIdOf', () => {
  it('When the name is a CVE id, then it is the CVE id (upper case)', () => {
    expect(cveIdOf('cve-2023-4911', ['https://x/CVE-2000-1'])).toBe('CVE-2023-4911');
  });

  it('When the name is not a CVE id, then the first CVE id in the links is used', () => {
    expect(
      cveIdOf('RHSA-2024:0001', ['https://access.redhat.com/errata/RHSA-2024:0001', 'https://nvd/CVE-2024-0727']),
    ).toBe('CVE-2024-0727');
  });

  it('When neither name nor links hold a CVE id, then the name is kept', () => {
    expect(cveIdOf('GHSA-xxxx-yyyy', ['https://github.com/advisories/GHSA-xxxx-yyyy'])).toBe('GHSA-xxxx-yyyy');
  });
});

describe('dedupeFindings', () => {
  it('When (cveId, package, version) repeats, then one finding stays: the most severe, then the one with a fix', () => {
    const out = dedupeFindings([
      finding({ level: 'Low' }),
      finding({ level: 'High' }),
      finding({ level: 'High', fixedBy: '2' }),
      finding({ version: '2' }),
    ]);
    expect(out).toEqual([finding({ level: 'High', fixedBy: '2' }), finding({ version: '2' })]);
  });
});

describe('mapV4Report', () => {
  const raw = {
    manifest_hash: DIGEST,
    packages: {
      '1': {
        id: '1',
        name: 'libssl3',
        version: '3.0.11-1',
        kind: 'binary',
        source: { name: 'openssl', kind: 'source' },
      },
      '2': { id: '2', name: 'openssl', version: '3.0.11-1', kind: 'source' },
      '3': { id: '3', name: 'bash', version: '5.2', kind: 'binary' },
      '4': { id: '4', name: 'requests', version: '2.0.0', kind: 'binary' },
    },
    distributions: {
      '7': { id: '7', did: 'debian', version_id: '12', name: 'Debian GNU/Linux' },
    },
    environments: {
      '1': [{ package_db: 'var/lib/dpkg/status', distribution_id: '7' }],
      '3': null,
      '4': [{ package_db: 'python:usr/lib/python3/dist-packages', distribution_id: '' }],
    },
    vulnerabilities: {
      '10': {
        id: '10',
        name: 'DSA-5678-1',
        links:
          'https://security-tracker.debian.org/tracker/DSA-5678-1 https://security-tracker.debian.org/tracker/CVE-2024-0727',
        normalized_severity: 'High',
        fixed_in_version: '3.0.13-1',
        description: 'openssl update',
      },
      '11': { id: '11', name: 'CVE-2024-0727', links: '', normalized_severity: 'Medium', fixed_in_version: '' },
      '12': { id: '12', name: 'PYSEC-2023-74', links: null, normalized_severity: 'Weird', description: null },
    },
    package_vulnerabilities: { '1': ['10', '11'], '4': ['12'], '99': ['10'] },
    enrichments: {},
  };

  it('When a report is mapped, then findings carry CVE, level, package, version, format, fix and first link', () => {
    const r = mapV4Report(V4VulnerabilityReport.parse(raw));
    expect(r.namespace).toBe('debian:12');
    // Binary packages only: openssl is the source of libssl3 and would count twice.
    expect(r.packages).toBe(3);
    expect(r.findings).toEqual([
      {
        cveId: 'CVE-2024-0727',
        description: 'openssl update',
        link: 'https://security-tracker.debian.org/tracker/DSA-5678-1',
        level: 'High',
        type: 'libssl3',
        version: '3.0.11-1',
        versionFormat: 'dpkg',
        fixedBy: '3.0.13-1',
      },
      {
        cveId: 'PYSEC-2023-74',
        description: '',
        link: '',
        level: 'Unknown',
        type: 'requests',
        version: '2.0.0',
        versionFormat: 'python',
        fixedBy: '',
      },
    ]);
  });

  it('When every map is null or absent, then the report parses and is empty', () => {
    const parsed = V4VulnerabilityReport.parse({
      manifest_hash: DIGEST,
      packages: null,
      distributions: null,
      environments: null,
      vulnerabilities: null,
    });
    expect(mapV4Report(parsed)).toEqual({ manifestDigest: DIGEST, namespace: null, packages: 0, findings: [] });
  });

  it('When a field the client uses has the wrong type, then parsing fails', () => {
    expect(V4VulnerabilityReport.safeParse({ ...raw, packages: { '1': { name: 5 } } }).success).toBe(false);
    expect(V4VulnerabilityReport.safeParse({ packages: {} }).success).toBe(false);
  });
});

describe('mapV2Layer', () => {
  it('When a v2 layer is mapped, then Defcon1 is Critical, a missing FixedBy is empty and NamespaceName is the OS', () => {
    const env = V2LayerEnvelope.parse({
      Layer: {
        Name: 'top',
        NamespaceName: 'debian:8',
        IndexedByVersion: 3,
        Features: [
          {
            Name: 'coreutils',
            NamespaceName: 'debian:8',
            VersionFormat: 'dpkg',
            Version: '8.23-4',
            Vulnerabilities: [
              {
                Name: 'CVE-2014-9471',
                Link: 'https://security-tracker.debian.org/tracker/CVE-2014-9471',
                Severity: 'Defcon1',
                Description: 'date bug',
                FixedBy: '8.23-5',
              },
              { Name: 'DSA-1-1', Link: 'https://x/CVE-2015-1', Severity: 'Low' },
            ],
          },
          { Name: 'bash', VersionFormat: 'dpkg', Version: '4.3' },
        ],
      },
    });
    expect(mapV2Layer(DIGEST, env)).toEqual({
      manifestDigest: DIGEST,
      namespace: 'debian:8',
      packages: 2,
      findings: [
        {
          cveId: 'CVE-2014-9471',
          description: 'date bug',
          link: 'https://security-tracker.debian.org/tracker/CVE-2014-9471',
          level: 'Critical',
          type: 'coreutils',
          version: '8.23-4',
          versionFormat: 'dpkg',
          fixedBy: '8.23-5',
        },
        {
          cveId: 'CVE-2015-1',
          description: '',
          link: 'https://x/CVE-2015-1',
          level: 'Low',
          type: 'coreutils',
          version: '8.23-4',
          versionFormat: 'dpkg',
          fixedBy: '',
        },
      ],
    });
  });
});
