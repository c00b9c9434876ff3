import request from 'supertest';
import { buildFinding, digestOf, discoverTags, scanDigest, seedRegistry } from '../factories/scan-report.factory';
import { buildTestApp } from '../helpers/app';
import { useTestDb } from '../helpers/test-db';
import { markVanished } from '../../src/modules/scanner/discovery';

useTestDb();

/** RFC 4180 parser for the assertions (quoted fields, doubled quotes, CRLF or LF inside quotes). */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\r' && text[i + 1] === '\n') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
      i++;
    } else field += c;
  }
  if (field || row.length) rows.push([...row, field]);
  return rows;
}

const COLUMNS = [
  'registry',
  'image',
  'tag',
  'digest',
  'cveId',
  'package',
  'version',
  'fixedBy',
  'level',
  'link',
  'description',
  'firstSeen',
];

const D1 = digestOf(0xe1);
const D2 = digestOf(0xe2);
const D3 = digestOf(0xe3);
const NASTY = 'Overflow, in "inflate"\r\nsecond line\nthird, with "quotes"';

async function seed() {
  const r1 = await seedRegistry('10.0.0.1', 5000);
  const r2 = await seedRegistry('10.0.0.2', 5000);
  await discoverTags(r1, [
    { image: 'team/app', tag: '1', digest: D1 },
    { image: 'team/web', tag: '2', digest: D2 },
  ]);
  await discoverTags(r2, [{ image: 'other', tag: '1', digest: D3 }]);
  const first = new Date('2026-01-01T00:00:00.000Z');
  await scanDigest(
    D1,
    [
      buildFinding({ cveId: 'CVE-2024-0001', description: NASTY, type: 'zlib', fixedBy: '1.3' }),
      buildFinding({ cveId: 'CVE-2024-0002', description: '=HYPERLINK("http://evil")', type: 'bash' }),
    ],
    first,
  );
  await scanDigest(D2, [buildFinding({ cveId: 'CVE-2024-0003', description: '-1 day', type: 'tar' })], first);
  await scanDigest(D3, [buildFinding({ cveId: 'CVE-2024-0009' })], first);
  return { r1, r2 };
}

describe('GET /api/scanner/image/export', () => {
  it('When exported as CSV, then commas, quotes and newlines survive a parse and the columns are exact', async () => {
    const { app } = buildTestApp();
    const { r1 } = await seed();

    const res = await request(app)
      .get('/api/scanner/image/export')
      .query({ repository: r1, image: 'team/app', tag: '1', format: 'csv' })
      .buffer(true)
      .parse((r, cb) => {
        let s = '';
        r.on('data', (c: Buffer) => (s += c.toString('utf8')));
        r.on('end', () => cb(null, s));
      });

    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/csv/);
    expect(res.headers['content-disposition']).toBe('attachment; filename="vulnscan-10.0.0.1_5000-team_app-1.csv"');
    const rows = parseCsv(res.body as string);
    expect(rows[0]).toEqual(COLUMNS);
    expect(rows).toHaveLength(3);
    expect(rows[1]).toEqual([
      r1,
      'team/app',
      '1',
      D1,
      'CVE-2024-0001',
      'zlib',
      '3.0.11-1',
      '1.3',
      'High',
      'https://security-tracker.debian.org/tracker/CVE-2024-0001',
      NASTY,
      '2026-01-01T00:00:00.000Z',
    ]);
    // Formula injection: the cell reads as text in a spreadsheet.
    expect(rows[2]![10]).toBe(`'=HYPERLINK("http://evil")`);
  });

  it('When exported as JSON, then the body is one parseable array of rows', async () => {
    const { app } = buildTestApp();
    const { r1 } = await seed();

    const res = await request(app)
      .get('/api/scanner/image/export')
      .query({ repository: r1, image: 'team/app', tag: '1', format: 'json' });

    expect(res.status).toBe(200);
    expect(res.headers['content-disposition']).toMatch(/filename="vulnscan-10\.0\.0\.1_5000-team_app-1\.json"/);
    const rows = JSON.parse(res.text) as Array<Record<string, string>>;
    expect(rows.map((r) => r.cveId)).toEqual(['CVE-2024-0001', 'CVE-2024-0002']);
    expect(rows[0]).toMatchObject({ description: NASTY, package: 'zlib', platform: 'linux/amd64', registry: r1 });
  });

  it('When the format is bad, then 5003; when the image is unknown, then 5004, both as the envelope', async () => {
    const { app } = buildTestApp();
    const { r1 } = await seed();

    const badFormat = await request(app)
      .get('/api/scanner/image/export')
      .query({ repository: r1, image: 'team/app', tag: '1', format: 'xlsx' });
    const unknown = await request(app)
      .get('/api/scanner/image/export')
      .query({ repository: r1, image: 'team/nope', tag: '1', format: 'csv' });

    expect(badFormat.status).toBe(400);
    expect(badFormat.body).toMatchObject({ code: 5003, message: 'paramException' });
    expect(badFormat.body.data).toMatch(/query\.format/);
    expect(unknown.status).toBe(404);
    expect(unknown.body.code).toBe(5004);
    expect(unknown.headers['content-disposition']).toBeUndefined();
  });
});

describe('GET /api/scanner/export', () => {
  it('When a registry is exported, then every present image and its open findings are in it, and no other registry', async () => {
    const { app } = buildTestApp();
    const { r1 } = await seed();
    // team/gone vanished: not exported.
    await discoverTags(r1, [{ image: 'team/gone', tag: '1', digest: D3 }], new Date(0));
    const seenAt = new Date();
    await discoverTags(
      r1,
      [
        { image: 'team/app', tag: '1', digest: D1 },
        { image: 'team/web', tag: '2', digest: D2 },
      ],
      seenAt,
    );
    await markVanished(r1, seenAt);

    const res = await request(app).get('/api/scanner/export').query({ repository: '10.0.0.1' });
    const json = await request(app).get('/api/scanner/export').query({ repository: r1, format: 'json' });

    expect(res.status).toBe(200);
    expect(res.headers['content-disposition']).toBe('attachment; filename="vulnscan-10.0.0.1_5000.csv"');
    const rows = parseCsv(res.text);
    expect(rows[0]).toEqual(COLUMNS);
    expect(rows.slice(1).map((r) => [r[1], r[2], r[4]])).toEqual([
      ['team/app', '1', 'CVE-2024-0001'],
      ['team/app', '1', 'CVE-2024-0002'],
      ['team/web', '2', 'CVE-2024-0003'],
    ]);
    expect(rows[3]![10]).toBe("'-1 day");
    expect((JSON.parse(json.text) as unknown[]).length).toBe(3);
  });

  it('When the registry has no findings, then the CSV is the header alone and the JSON an empty array', async () => {
    const { app } = buildTestApp();
    const key = await seedRegistry('10.0.0.5', 5000);

    const csv = await request(app).get('/api/scanner/export').query({ repository: key, format: 'csv' });
    const json = await request(app).get('/api/scanner/export').query({ repository: key, format: 'json' });

    expect(csv.text).toBe(`${COLUMNS.join(',')}\r\n`);
    expect(JSON.parse(json.text)).toEqual([]);
  });

  it('When the registry is unknown or the query bad, then 5004 or 5003', async () => {
    const { app } = buildTestApp();

    const unknown = await request(app).get('/api/scanner/export').query({ repository: '10.9.9.9:5000' });
    const missing = await request(app).get('/api/scanner/export').query({ format: 'csv' });

    expect(unknown.body.code).toBe(5004);
    expect(missing.body.code).toBe(5003);
    expect(missing.body.data).toMatch(/query\.repository/);
  });
});
