import express from 'express';
import request from 'supertest';
import { createLogger } from '../../../src/logger';
import { csvField, serialise } from '../../../src/modules/vulnerabilities/export-format';
import { sendDownload } from '../../../src/modules/vulnerabilities/send-download';
import { errorHandler } from '../../../src/http/middleware/error-handler';
import type { ExportRow } from '../../../src/modules/vulnerabilities/vulnerabilities.schemas';

const log = createLogger('silent');

const row = (cveId: string, description = ''): ExportRow => ({
  registry: 'r:5000',
  image: 'app',
  tag: '1',
  platform: 'linux/amd64',
  digest: 'sha256:x',
  cveId,
  package: 'zlib',
  version: '1',
  fixedBy: '',
  level: 'High',
  link: '',
  description,
  firstSeen: '2026-01-01T00:00:00.000Z',
});

describe('csvField', () => {
  it.each([
    ['plain', 'plain'],
    ['a,b', '"a,b"'],
    ['say "hi"', '"say ""hi"""'],
    ['line\nbreak', '"line\nbreak"'],
    ['cr\rhere', '"cr\rhere"'],
    ['=SUM(A1)', "'=SUM(A1)"],
    ['+1', "'+1"],
    ['-2', "'-2"],
    ['@cmd', "'@cmd"],
    ['=a,b', `"'=a,b"`],
    ['', ''],
  ])('When the value is %j, then the field is %j', (value, expected) => {
    expect(csvField(value)).toBe(expected);
  });
});

async function* rows(n: number, failAfter?: number): AsyncGenerator<ExportRow> {
  for (let i = 0; i < n; i++) {
    if (failAfter !== undefined && i === failAfter) throw new Error('database went away');
    yield row(`CVE-2024-${i}`, 'x'.repeat(1000));
  }
}

function appFor(n: number, failAfter?: number) {
  const app = express();
  app.get('/x', async (_req, res) => {
    await sendDownload(
      res,
      { filename: 'f.json', contentType: 'application/json', chunks: serialise(rows(n, failAfter), 'json') },
      log,
    );
  });
  app.use(errorHandler);
  return app;
}

describe('sendDownload', () => {
  it('When the rows end, then the JSON array is complete and parses', async () => {
    const res = await request(appFor(300)).get('/x');

    expect(res.headers['content-disposition']).toBe('attachment; filename="f.json"');
    expect((JSON.parse(res.text) as unknown[]).length).toBe(300);
  });

  it('When reading fails before the first byte, then the reply is the error envelope', async () => {
    const res = await request(appFor(10, 0)).get('/x');

    expect(res.status).toBe(500);
    expect(res.body.code).toBe(5000);
    expect(res.headers['content-disposition']).toBeUndefined();
  });

  it('When reading fails after bytes were sent, then the transfer is aborted, never a complete-looking file', async () => {
    // 200 rows of ~1 KB: several 64 KB chunks go out before the failure.
    await expect(request(appFor(1000, 200)).get('/x')).rejects.toThrow(/aborted|socket hang up|ECONNRESET/);
  });
});
