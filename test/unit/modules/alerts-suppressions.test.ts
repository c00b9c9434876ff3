import { createHmac } from 'node:crypto';
import { ConfigError, loadConfig } from '../../../src/config';
import { signBody, urlForLogs } from '../../../src/modules/alerts';
import { coversImage, CveId } from '../../../src/modules/suppressions';

describe('alert configuration', () => {
  it('When alert keys are set, then they are parsed (level case-insensitive) and the defaults apply otherwise', () => {
    const c = loadConfig({ ALERT_WEBHOOK_URLS: 'http://a/x, https://b/y', ALERT_MIN_LEVEL: 'Critical' });
    expect(c.alerts).toMatchObject({
      webhookUrls: ['http://a/x', 'https://b/y'],
      minLevel: 'critical',
      secret: undefined,
      maxAttempts: 8,
    });
    expect(c.suppressions.sweepMs).toBe(60_000);
  });

  it('When an alert key is bad, then the error names it without echoing the value', () => {
    expect(() => loadConfig({ ALERT_WEBHOOK_URLS: 'ftp://x/y' })).toThrow(/ALERT_WEBHOOK_URLS/);
    expect(() => loadConfig({ ALERT_MIN_LEVEL: 'severe' })).toThrow(/ALERT_MIN_LEVEL/);
    try {
      loadConfig({ ALERT_SECRET: 'tooshort-secret' });
      throw new Error('accepted');
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as Error).message).toMatch(/ALERT_SECRET/);
      expect((err as Error).message).not.toContain('tooshort-secret');
    }
  });
});

describe('alert signing', () => {
  it('When a body is signed, then the signature is sha256= and the hex HMAC of exactly those bytes', () => {
    const body = '{"id":"e1","vulnerabilities":[{"cveId":"CVE-2024-1"}]}';
    const expected = createHmac('sha256', 'k'.repeat(16)).update(Buffer.from(body)).digest('hex');
    expect(signBody('k'.repeat(16), body)).toBe(`sha256=${expected}`);
    expect(signBody('k'.repeat(16), `${body} `)).not.toBe(`sha256=${expected}`);
  });

  it('When a URL is logged, then only its origin is (paths and queries often hold tokens)', () => {
    expect(urlForLogs('https://hooks.example.com/services/T000/B000/XXXX?token=abc')).toBe('https://hooks.example.com');
  });
});

describe('suppression ids and scopes', () => {
  it.each(['CVE-2024-3094', ' CVE-2024-3094 ', 'GHSA-jfh8-c2jp-5v3q', 'DLA-3600-1', 'RHSA-2024:0001', 'PYSEC-2021-19'])(
    'When the id is %j, then it is accepted (trimmed)',
    (id) => {
      expect(CveId.parse(id)).toBe(id.trim());
    },
  );

  it.each(['CVE-2024-123', 'CVE-24-1234', 'GHSA-ABCD-EFGH-IJKL', 'DLA-3600', 'foo', 'CVE-2024-1234x', ''])(
    'When the id is %j, then it is refused',
    (id) => {
      expect(CveId.safeParse(id).success).toBe(false);
    },
  );

  it('When scopes are matched, then each narrows to its registry, image and tag', () => {
    const img = { repository: 'r:5000', image: 'app', tag: '1' };
    const s = (scope: 'global' | 'registry' | 'image' | 'tag', o: Record<string, string | null> = {}) => ({
      cveId: 'CVE-2024-0001',
      scope,
      repository: null,
      image: null,
      tag: null,
      ...o,
    });
    expect(coversImage(s('global'), img)).toBe(true);
    expect(coversImage(s('registry', { repository: 'r:5000' }), img)).toBe(true);
    expect(coversImage(s('registry', { repository: 'q:5000' }), img)).toBe(false);
    expect(coversImage(s('image', { repository: 'r:5000', image: 'app' }), img)).toBe(true);
    expect(coversImage(s('image', { repository: 'r:5000', image: 'other' }), img)).toBe(false);
    expect(coversImage(s('tag', { repository: 'r:5000', image: 'app', tag: '2' }), img)).toBe(false);
    expect(coversImage(s('tag', { repository: 'r:5000', image: 'app', tag: '1' }), img)).toBe(true);
  });
});
