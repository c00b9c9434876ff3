import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import mongoose from 'mongoose';
import request from 'supertest';
import { DEFAULT_WEIGHTS } from '../../src/domain/scoring';
import { answerClientErrors } from '../../src/http/client-error';
import { RegistryModel } from '../../src/modules/registries';
import { SuppressionModel } from '../../src/modules/suppressions';
import { buildTestApp } from '../helpers/app';
import { useTestDb } from '../helpers/test-db';

useTestDb();

/** Asserts a 5003/400 envelope whose data matches `why`. */
function expectParamError(res: request.Response, why: RegExp): void {
  expect(res.status).toBe(400);
  expect(res.body).toEqual({ code: 5003, data: expect.stringMatching(why), message: 'paramException' });
}

/** `levels` nested objects: {"a":{"a":...{}}}, built as text so nothing recursive touches it. */
function nested(levels: number): string {
  return '{"a":'.repeat(levels) + '{}' + '}'.repeat(levels);
}

async function storedWeights(): Promise<unknown> {
  return mongoose.connection.db!.collection('settings').findOne({ _id: 'score' as never });
}

describe('Content-Encoding', () => {
  it.each(['gzip', 'deflate', 'br'])(
    'When a body claims Content-Encoding %s but is plain JSON, then 5003/400 and nothing is stored',
    async (encoding) => {
      const { app } = buildTestApp();
      const res = await request(app)
        .put('/api/score')
        .set('Content-Type', 'application/json')
        .set('Content-Encoding', encoding)
        .send('{"low":4}');
      expectParamError(res, /^body: does not decode with the encoding its Content-Encoding header names$/);
      expect(await storedWeights()).toBeNull();
    },
  );

  it('When POST /api/repository gets a fake gzip body, then 5003/400 and no registry is created', async () => {
    const { app } = buildTestApp();
    const res = await request(app)
      .post('/api/repository')
      .set('Content-Type', 'application/json')
      .set('Content-Encoding', 'gzip')
      .send(JSON.stringify({ repository: '127.0.0.1', port: 5000 }));
    expectParamError(res, /Content-Encoding/);
    expect(await RegistryModel.countDocuments()).toBe(0);
  });

  it('When the encoding is one the server does not support, then 5003/400 names it', async () => {
    const { app } = buildTestApp();
    const res = await request(app)
      .put('/api/score')
      .set('Content-Type', 'application/json')
      .set('Content-Encoding', 'compress')
      .send('{"low":4}');
    expectParamError(res, /unsupported content encoding "compress"/);
    expect(await storedWeights()).toBeNull();
  });

  it('When the body really is gzip, then it is accepted', async () => {
    const { app } = buildTestApp();
    const res = await request(app)
      .put('/api/score')
      .set('Content-Type', 'application/json')
      .set('Content-Encoding', 'gzip')
      // superagent would JSON-encode a Buffer; send its bytes as they are.
      .serialize((b: Buffer) => b as unknown as string)
      .send(gzipSync('{"low":4}'));
    expect(res.status).toBe(200);
    expect(res.body.data).toEqual({ ...DEFAULT_WEIGHTS, low: 4 });
  });
});

describe('path parameters', () => {
  it.each([
    ['GET', '/api/suppressions/%FF'],
    ['DELETE', '/api/suppressions/%E0%A4%A'],
    ['GET', '/api/vulnerabilities/%C3%28/images'],
  ])('When %s %s has a percent-encoding that does not decode, then 5003/400 names the path', async (method, url) => {
    const { app } = buildTestApp();
    const res = await request(app)[method.toLowerCase() as 'get' | 'delete'](url);
    expectParamError(res, /^path: a parameter is percent-encoded but does not decode to UTF-8$/);
  });

  it('When a suppression exists and DELETE names it with a bad encoding, then it is still there', async () => {
    const { app } = buildTestApp();
    await SuppressionModel.collection.insertOne({ cveId: 'CVE-2020-0001', reason: 'x', scope: 'global' });
    const res = await request(app).delete('/api/suppressions/%FF%FE');
    expect(res.status).toBe(400);
    expect(await SuppressionModel.countDocuments()).toBe(1);
  });
});

describe('nesting depth', () => {
  it.each([
    ['POST', 5_000],
    ['PUT', 5_000],
    ['POST', 33],
  ])(
    'When %s /api/repository sends options %i levels deep, then 5003/400 and nothing is written',
    async (method, depth) => {
      const { app } = buildTestApp();
      const body = `{"repository":"127.0.0.1","port":5000,"options":${nested(depth)}}`;
      const res = await request(app)
        [method === 'POST' ? 'post' : 'put']('/api/repository')
        .set('Content-Type', 'application/json')
        .send(body);
      expectParamError(res, /^body: nested deeper than 32 levels$/);
      expect(await RegistryModel.countDocuments()).toBe(0);
    },
  );

  it('When a body is nested 100,000 levels in arrays, then 5003/400 (the parser survives it too)', async () => {
    const { app } = buildTestApp();
    const body = '['.repeat(100_000) + ']'.repeat(100_000);
    const res = await request(app).put('/api/score').set('Content-Type', 'application/json').send(body);
    expect(res.status).toBe(400);
    expect(res.body.code).toBe(5003);
  });

  it('When options are 30 levels deep, then nesting is not what is refused', async () => {
    const { app } = buildTestApp();
    const res = await request(app)
      .post('/api/repository')
      .set('Content-Type', 'application/json')
      .send(`{"repository":"127.0.0.1","port":"x","options":${nested(30)}}`);
    expectParamError(res, /^body\.port: /);
  });

  it('When a body has a "__proto__" key, then 5003/400 names where', async () => {
    const { app } = buildTestApp();
    const res = await request(app)
      .post('/api/repository')
      .set('Content-Type', 'application/json')
      .send('{"repository":"127.0.0.1","port":5000,"options":{"__proto__":{"polluted":true}}}');
    expectParamError(res, /^body\.options: a field may not be named "__proto__"$/);
    expect(await RegistryModel.countDocuments()).toBe(0);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('NUL characters', () => {
  it('When a search term holds a NUL character, then 5003/400 names the term (not 5005)', async () => {
    const { app } = buildTestApp();
    const res = await request(app)
      .post('/api/scanner')
      .send({ search: ['ok', 'bad\u0000term'] });
    expectParamError(res, /^body\.search\.1: must not contain a NUL character/);
  });

  it('When a query value holds a NUL character, then 5003/400 names it', async () => {
    const { app } = buildTestApp();
    const res = await request(app).delete('/api/repository?repository=a%00b');
    expectParamError(res, /^query\.repository: must not contain a NUL character/);
  });

  it('When a field name holds a NUL character, then 5003/400', async () => {
    const { app } = buildTestApp();
    const res = await request(app).put('/api/score').set('Content-Type', 'application/json').send('{"lo\\u0000w":4}');
    expectParamError(res, /NUL/);
    expect(await storedWeights()).toBeNull();
  });
});

describe('integers in query strings', () => {
  it.each(['0x10', '1e1', '', ' 16', '16.0', '-1', '+5', '0b1'])(
    'When size is "%s", then 5003/400 names size (decimal digits only)',
    async (size) => {
      const { app } = buildTestApp();
      const res = await request(app).get(`/api/suppressions?size=${encodeURIComponent(size)}`);
      expectParamError(res, /^query\.size: /);
    },
  );

  it.each(['0x1', '1e1'])('When from is "%s" on the alerts and CVE lists, then 5003/400', async (from) => {
    const { app } = buildTestApp();
    const a = await request(app).get(`/api/alerts/webhooks?from=${from}`);
    expectParamError(a, /^query\.from: /);
    const v = await request(app).get(`/api/vulnerabilities/CVE-2020-0001/images?from=${from}`);
    expectParamError(v, /^query\.from: /);
  });

  it('When size is "16" (or "016"), then it is read as 16', async () => {
    const { app } = buildTestApp();
    for (const size of ['16', '016']) {
      const res = await request(app).get(`/api/suppressions?size=${size}`);
      expect(res.status).toBe(200);
      expect(res.body.code).toBe(0);
    }
  });
});

describe('requests the HTTP parser refuses', () => {
  let server: Server;
  let port: number;
  beforeAll(async () => {
    const { app, logger } = buildTestApp();
    server = createServer(app);
    answerClientErrors(server, logger);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    server.close();
    await once(server, 'close');
  });

  /** Sends raw bytes and returns the whole reply (the server closes the connection). */
  async function raw(bytes: Buffer): Promise<{ status: number; headers: string; body: string }> {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.write(bytes);
    await once(socket, 'close');
    const text = Buffer.concat(chunks).toString('latin1');
    const [head, body] = text.split('\r\n\r\n');
    return { status: Number(head.split(' ')[1]), headers: head, body };
  }

  it('When the URL is 20 KB, then 431 with the 5003 envelope', async () => {
    const res = await raw(Buffer.from(`GET /api/score?x=${'a'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`));
    expect(res.status).toBe(431);
    expect(res.headers).toMatch(/content-type: application\/json/i);
    expect(JSON.parse(res.body)).toEqual({
      code: 5003,
      data: 'request: the request line and headers together exceed 16 KB',
      message: 'paramException',
    });
  });

  it('When the request line holds a raw non-ASCII byte, then 400 with the 5003 envelope', async () => {
    const line = Buffer.concat([
      Buffer.from('GET /api/sc'),
      Buffer.from([0xff, 0x00]),
      Buffer.from('ore HTTP/1.1\r\n\r\n'),
    ]);
    const res = await raw(line);
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body)).toMatchObject({ code: 5003, message: 'paramException' });
  });

  it('When a chunked body breaks after the headers were read, then 400 with the envelope', async () => {
    const res = await raw(
      Buffer.from(
        'PUT /api/score HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n',
      ),
    );
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body)).toMatchObject({ code: 5003, message: 'paramException' });
  });

  it('When the request is not HTTP at all, then 400 with the envelope', async () => {
    const res = await raw(Buffer.from('\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage\r\n\r\n', 'latin1'));
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body).code).toBe(5003);
  });
});
