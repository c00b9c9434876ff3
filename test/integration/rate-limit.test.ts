import request from 'supertest';
import { loadConfig } from '../../src/config';
import { buildTestApp } from '../helpers/app';
import { useTestDb } from '../helpers/test-db';

useTestDb();

/** Per-client limits on writes and on scan triggers: 5008 with HTTP 429 and Retry-After beyond them. */

const TOKEN_A = 'token-a-0123456789abcdef0123456789';
const TOKEN_B = 'token-b-0123456789abcdef0123456789';

describe('rate limits', () => {
  it('When a client exceeds the write limit, then it gets 5008/429 with Retry-After, while reads and list POSTs go on', async () => {
    const { app } = buildTestApp({ RATE_LIMIT_WRITES: '3', RATE_LIMIT_WINDOW_MS: '60000' });

    const writes = [];
    for (let i = 0; i < 4; i++)
      writes.push(
        await request(app)
          .put('/api/score')
          .send({ high: 9 - i }),
      );
    const lists = [];
    for (let i = 0; i < 5; i++) lists.push(await request(app).post('/api/scanner').send({}));
    const read = await request(app).get('/api/score');

    expect(writes.slice(0, 3).map((r) => r.body.code)).toEqual([0, 0, 0]);
    const refused = writes[3];
    expect(refused.status).toBe(429);
    expect(refused.body).toMatchObject({ code: 5008, message: 'rateLimitException' });
    expect(refused.body.data).toMatch(/too many write requests: at most 3 per 60 s per client; retry after \d+ s/);
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    expect(Number(refused.headers['retry-after'])).toBeLessThanOrEqual(60);
    // The refused write changed nothing: the third one's weight stands.
    expect(read.body.data.high).toBe(7);
    expect(lists.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
  });

  it('When one token has used up its writes, then another token (another client) still may write', async () => {
    const { app } = buildTestApp({ API_TOKENS: `${TOKEN_A},${TOKEN_B}`, RATE_LIMIT_WRITES: '2' });
    const put = (token: string) =>
      request(app).put('/api/score').set('Authorization', `Bearer ${token}`).send({ low: 3 });

    const a = [await put(TOKEN_A), await put(TOKEN_A), await put(TOKEN_A)];
    const b = await put(TOKEN_B);

    expect(a.map((r) => r.status)).toEqual([200, 200, 429]);
    expect(b.status).toBe(200);
  });

  it('When scans are triggered beyond their stricter limit, then 5008/429, and other writes are not counted against it', async () => {
    const { app } = buildTestApp({ RATE_LIMIT_SCANS: '2', RATE_LIMIT_WRITES: '100' });

    const scans = [];
    for (let i = 0; i < 3; i++) scans.push(await request(app).post('/api/scanner/scan').send({}));
    const write = await request(app).put('/api/score').send({ medium: 5 });

    expect(scans.slice(0, 2).map((r) => r.status)).toEqual([202, 202]);
    expect(scans[2].status).toBe(429);
    expect(scans[2].body.data).toMatch(/too many scan requests: at most 2 per 60 s/);
    expect(scans[2].headers['retry-after']).toMatch(/^\d+$/);
    expect(write.status).toBe(200);
  });

  it('When nothing is configured, then the defaults allow 600 writes and 60 scans per minute and a 0 turns a limit off', async () => {
    expect(loadConfig({}).rateLimit).toEqual({ windowMs: 60_000, writes: 600, scans: 60 });
    const { app } = buildTestApp({ RATE_LIMIT_WRITES: '0', RATE_LIMIT_SCANS: '0' });
    const statuses = [];
    for (let i = 0; i < 5; i++) statuses.push((await request(app).put('/api/score').send({ high: 9 })).status);
    expect(statuses).toEqual([200, 200, 200, 200, 200]);
  });
});
