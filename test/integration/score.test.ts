import mongoose from 'mongoose';
import request from 'supertest';
import { DEFAULT_WEIGHTS } from '../../src/domain/scoring';
import { LEVELS } from '../../src/domain/severity';
import { SCORE_CACHE_TTL_MS } from '../../src/modules/score/score.router';
import { ImageModel } from '../../src/modules/images';
import { buildImage, insertImages } from '../factories/image.factory';
import { buildTestApp } from '../helpers/app';
import { useTestDb } from '../helpers/test-db';

useTestDb();

describe('GET /api/score', () => {
  it('When nothing was stored, then it answers code 0 with the six default weights', async () => {
    const { app } = buildTestApp();
    const res = await request(app).get('/api/score');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ code: 0, data: { ...DEFAULT_WEIGHTS }, message: 'ok' });
  });

  it('When a request id is sent, then the reply echoes it', async () => {
    const { app } = buildTestApp();
    const res = await request(app).get('/api/score').set('X-Request-Id', 'abc-123');
    expect(res.headers['x-request-id']).toBe('abc-123');
  });

  it('When no request id is sent, then the reply carries a generated one', async () => {
    const { app } = buildTestApp();
    const res = await request(app).get('/api/score');
    expect(res.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe('PUT /api/score', () => {
  it('When one weight is sent, then only it changes and the reply holds all six', async () => {
    const { app } = buildTestApp();
    const res = await request(app).put('/api/score').send({ low: 4 });
    expect(res.status).toBe(200);
    expect(res.body.data).toEqual({ ...DEFAULT_WEIGHTS, low: 4 });
    const after = await request(app).get('/api/score');
    expect(after.body.data).toEqual({ ...DEFAULT_WEIGHTS, low: 4 });
  });

  it('When the seed body (five weights) is sent, then critical keeps its value', async () => {
    const { app } = buildTestApp();
    const res = await request(app).put('/api/score').send({ high: 9, medium: 5, low: 4, negligible: 2, unknown: 1 });
    expect(res.body.data).toEqual({ critical: 10, high: 9, medium: 5, low: 4, negligible: 2, unknown: 1 });
  });

  it('When weights change, then every scanned image is re-scored before the reply, unscanned ones stay null', async () => {
    const { app } = buildTestApp({ RESCORE_BATCH_SIZE: '2' });
    await insertImages([
      buildImage({ image: 'seed', medium: 7, low: 20, negligible: 16, packages: 89, score: 0.5 }),
      buildImage({ image: 'crit', critical: 1, packages: 1, score: 1 }),
      buildImage({ image: 'clean', packages: 5, score: 0 }),
      buildImage({ image: 'pending', scanStatus: 'pending', score: null, low: 3 }),
      buildImage({ image: 'other', high: 2, packages: 4, score: 0.4 }),
    ]);
    const res = await request(app).put('/api/score').send({ critical: 9 });
    expect(res.status).toBe(200);
    const scores = Object.fromEntries(
      (await ImageModel.find({}, { image: 1, score: 1 }).lean()).map((d) => [d.image, d.score]),
    );
    expect(scores).toEqual({
      seed: 0.1585518102372035,
      crit: 1,
      clean: 0,
      pending: null,
      other: (2 * 9) / (9 * 4),
    });
  });

  it("When a weight change leaves an image's score as it was, then that image is not rewritten", async () => {
    const { app } = buildTestApp();
    await insertImages([
      buildImage({ image: 'low-only', low: 2, packages: 10, score: (2 * 3) / (10 * 10) }),
      buildImage({ image: 'has-unknown', unknown: 4, packages: 10, score: (4 * 1) / (10 * 10) }),
    ]);
    const before = Object.fromEntries(
      (await ImageModel.find({}, { image: 1, modifiedAt: 1 }).lean()).map((d) => [d.image, d.modifiedAt?.getTime()]),
    );
    await new Promise((r) => setTimeout(r, 20));
    await request(app).put('/api/score').send({ unknown: 2 });
    const after = await ImageModel.find({}, { image: 1, modifiedAt: 1, score: 1 }).lean();
    const byName = Object.fromEntries(after.map((d) => [d.image, d]));
    expect(byName['low-only'].modifiedAt?.getTime()).toBe(before['low-only']);
    expect(byName['has-unknown'].score).toBe((4 * 2) / (10 * 10));
    expect(byName['has-unknown'].modifiedAt?.getTime()).toBeGreaterThan(before['has-unknown']!);
  });

  const badBodies: Array<[string, unknown, RegExp]> = [
    ['a string weight', { high: '9' }, /body\.high: must be a number/],
    ['a negative weight', { low: -1 }, /body\.low: must be between 0 and 1000/],
    ['a weight over 1000', { low: 1001 }, /body\.low: must be between 0 and 1000/],
    ['an unknown key', { severe: 3 }, /body: unknown field "severe"/],
    ['an operator object', { high: { $gt: 1 } }, /body\.high: must be a number/],
    ['a $-prefixed key', { $set: { high: 1 } }, /unknown field "\$set"/],
    ['an empty object', {}, /at least one of/],
    ['an array', [1, 2], /body/],
    ['null', null, /body/],
    [
      'every weight zero',
      { critical: 0, high: 0, medium: 0, low: 0, negligible: 0, unknown: 0 },
      /at least one weight must be greater than 0/,
    ],
  ];

  it.each(badBodies)(
    'When the body has %s, then 5003/400 names why and nothing is stored',
    async (_name, body, why) => {
      const { app } = buildTestApp();
      await request(app).put('/api/score').send({ medium: 6 });
      const res = await request(app)
        .put('/api/score')
        .set('content-type', 'application/json')
        .send(JSON.stringify(body));
      expect(res.status).toBe(400);
      expect(res.body.code).toBe(5003);
      expect(res.body.message).toBe('paramException');
      expect(res.body.data).toMatch(why);
      const after = await request(app).get('/api/score');
      expect(after.body.data).toEqual({ ...DEFAULT_WEIGHTS, medium: 6 });
    },
  );

  it('When the body is not valid JSON, then 5003/400 says so and nothing is stored', async () => {
    const { app } = buildTestApp();
    const res = await request(app).put('/api/score').set('content-type', 'application/json').send('{"high": 9,');
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ code: 5003, data: 'body: invalid JSON', message: 'paramException' });
    expect((await request(app).get('/api/score')).body.data).toEqual({ ...DEFAULT_WEIGHTS });
  });

  it('When the body is 2 MB, then 5003/400 names the 1 MB limit and nothing is stored', async () => {
    const { app } = buildTestApp();
    const big = JSON.stringify({ high: 9, pad: 'x'.repeat(2 * 1024 * 1024) });
    const res = await request(app).put('/api/score').set('content-type', 'application/json').send(big);
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ code: 5003, data: 'body: larger than the 1 MB limit', message: 'paramException' });
    expect((await request(app).get('/api/score')).body.data).toEqual({ ...DEFAULT_WEIGHTS });
  });

  it('When the body is sent as text/plain, then 5003/400 says the body must be an object', async () => {
    const { app } = buildTestApp();
    const res = await request(app).put('/api/score').set('content-type', 'text/plain').send('high=9');
    expect(res.status).toBe(400);
    expect(res.body.code).toBe(5003);
  });
});

describe('concurrent PUT /api/score', () => {
  const settings = () => mongoose.connection.db!.collection('settings').findOne({ _id: 'score' as never });

  it('When 30 first PUTs arrive at once on an empty database, then all answer 200 and none is lost', async () => {
    const { app } = buildTestApp();
    const bodies = Array.from({ length: 30 }, (_, i) => ({ [LEVELS[i % 6]]: 100 + i }));
    const replies = await Promise.all(bodies.map((b) => request(app).put('/api/score').send(b)));
    expect(replies.map((r) => r.status)).toEqual(Array(30).fill(200));
    expect(replies.map((r) => r.body.code)).toEqual(Array(30).fill(0));
    const doc = await settings();
    // PUTs arriving while a write is under way share the next write (and its version).
    expect(doc?.version).toBeGreaterThanOrEqual(2);
    expect(doc?.version).toBeLessThanOrEqual(30);
    // Each level ends with one of the values sent for it: no PUT's key was lost or overwritten by a default.
    for (const [i, level] of LEVELS.entries()) {
      const sent = bodies.filter((_, j) => j % 6 === i).map((b) => b[level]);
      expect(sent).toContain(doc?.[level]);
    }
  });

  it('When six partial PUTs of different keys race, then every key keeps its new value', async () => {
    const { app } = buildTestApp();
    await request(app).put('/api/score').send({ low: 4 });
    await Promise.all(
      LEVELS.map((l, i) =>
        request(app)
          .put('/api/score')
          .send({ [l]: 50 + i }),
      ),
    );
    const res = await request(app).get('/api/score').set('Cache-Control', 'no-cache');
    expect(res.body.data).toEqual(Object.fromEntries(LEVELS.map((l, i) => [l, 50 + i])));
    expect((await settings())?.version).toBeGreaterThanOrEqual(2);
  });

  it('When two PUTs would each zero the last two positive weights, then exactly one is refused with 5003', async () => {
    const { app } = buildTestApp();
    await request(app).put('/api/score').send({ medium: 0, low: 0, negligible: 0, unknown: 0 });
    const replies = await Promise.all([
      request(app).put('/api/score').send({ critical: 0 }),
      request(app).put('/api/score').send({ high: 0 }),
    ]);
    expect(replies.map((r) => r.status).sort()).toEqual([200, 400]);
    const refused = replies.find((r) => r.status === 400)!;
    expect(refused.body).toEqual({
      code: 5003,
      data: 'body: at least one weight must be greater than 0',
      message: 'paramException',
    });
    const doc = await settings();
    expect([doc?.critical, doc?.high].filter((w) => w > 0)).toHaveLength(1);
    expect(doc?.version).toBe(2);
  });
});

describe('GET /api/score cache', () => {
  it('When this instance changed the weights, then its next GET shows them at once', async () => {
    const { app } = buildTestApp();
    expect((await request(app).get('/api/score')).body.data).toEqual({ ...DEFAULT_WEIGHTS });
    await request(app).put('/api/score').send({ high: 8 });
    expect((await request(app).get('/api/score')).body.data).toEqual({ ...DEFAULT_WEIGHTS, high: 8 });
  });

  it('When another instance changed the weights, then no-cache shows them at once and a plain GET after the TTL', async () => {
    const a = buildTestApp().app;
    const b = buildTestApp().app;
    expect((await request(b).get('/api/score')).body.data).toEqual({ ...DEFAULT_WEIGHTS });
    await request(a).put('/api/score').send({ medium: 7 });
    const fresh = await request(b).get('/api/score').set('Cache-Control', 'no-cache');
    expect(fresh.body.data).toEqual({ ...DEFAULT_WEIGHTS, medium: 7 });
    await request(a).put('/api/score').send({ medium: 6 });
    await new Promise((r) => setTimeout(r, SCORE_CACHE_TTL_MS + 50));
    expect((await request(b).get('/api/score')).body.data).toEqual({ ...DEFAULT_WEIGHTS, medium: 6 });
  });
});

describe('unknown routes', () => {
  it('When the route does not exist, then a JSON 5004/404 answers', async () => {
    const { app } = buildTestApp();
    const res = await request(app).get('/api/nothing-here');
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ code: 5004, data: 'no route for GET /api/nothing-here', message: 'notFoundException' });
  });
});

describe('OpenAPI', () => {
  it('When /api/openapi.json is requested, then the document lists /api/score', async () => {
    const { app } = buildTestApp();
    const res = await request(app).get('/api/openapi.json');
    expect(res.status).toBe(200);
    expect(res.body.paths['/api/score']).toBeDefined();
  });

  it('When /api/docs/ is requested, then Swagger UI is served', async () => {
    const { app } = buildTestApp();
    const res = await request(app).get('/api/docs/');
    expect(res.status).toBe(200);
    expect(res.text).toMatch(/swagger-ui/i);
  });
});
