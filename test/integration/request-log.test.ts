import request from 'supertest';
import { buildTestApp } from '../helpers/app';
import { useTestDb } from '../helpers/test-db';

useTestDb();

const TOKEN = 'secret-token-xyz';
const PASSWD = 'hunter2-secret';
const QUERY_SECRET = 'abc-secret';
const SECRETS = [TOKEN, PASSWD, QUERY_SECRET];
// V8's JSON.parse messages quote up to 10 characters of a bad body: fragments must not appear either.
const FRAGMENTS = ['hunter2', 'abc-sec', 'token-xyz'];

describe('request log redaction', () => {
  it('When requests carry a bearer token, a passwd in the body and a token in the query, then no secret reaches the log but each request line does', async () => {
    // Arrange: auth on with the token, and the most verbose level so every line is captured.
    const { app, logs } = buildTestApp({ LOG_LEVEL: 'trace', API_TOKENS: TOKEN });
    const auth = `Bearer ${TOKEN}`;

    // Act: a success, a validation failure, two JSON parse failures and an auth refusal.
    const ok = await request(app).get(`/api/score?token=${QUERY_SECRET}`).set('Authorization', auth);
    const badField = await request(app)
      .put(`/api/score?token=${QUERY_SECRET}&x=1`)
      .set('Authorization', auth)
      .send({ low: 4, passwd: PASSWD });
    const badJson = await request(app)
      .put(`/api/score?token=${QUERY_SECRET}`)
      .set('Authorization', auth)
      .set('content-type', 'application/json')
      .send(`{"passwd": ${PASSWD}}`);
    const bareJson = await request(app)
      .put('/api/score')
      .set('Authorization', auth)
      .set('content-type', 'application/json')
      .send(PASSWD);
    const refused = await request(app)
      .get(`/api/score?token=${QUERY_SECRET}`)
      .set('Authorization', `Bearer ${TOKEN}-wrong`)
      .set('Cookie', `session=${PASSWD}`);

    // Assert
    const replies = [ok, badField, badJson, bareJson, refused];
    const statuses = [200, 400, 400, 400, 401];
    expect(replies.map((r) => r.status)).toEqual(statuses);
    const text = logs.text;
    for (const secret of [...SECRETS, ...FRAGMENTS]) expect(text).not.toContain(secret);

    const lines = logs.records().filter((r) => r.responseTime !== undefined);
    expect(lines).toHaveLength(replies.length);
    const ids = replies.map((r) => r.headers['x-request-id']);
    for (const [i, status] of statuses.entries()) {
      expect(lines[i]).toMatchObject({
        req: { id: ids[i], method: expect.any(String), route: '/api/score' },
        res: { statusCode: status },
        responseTime: expect.any(Number),
        msg: expect.stringContaining(`/api/score ${status}`),
      });
    }
    // The query keeps its keys (useful when debugging) but never its values.
    expect((lines[1].req as { url: string }).url).toBe('/api/score?token=[redacted]&x=[redacted]');
  });
});
