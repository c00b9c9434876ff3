import request from 'supertest';
import { buildTestApp } from '../helpers/app';
import { useTestDb } from '../helpers/test-db';

useTestDb();

const TOKEN = 'secret-token-xyz';
const OTHER = 'another-token-0123456789';
const CONSOLE = 'https://console.example.com';

function authedApp() {
  return buildTestApp({ API_TOKENS: `${TOKEN},${OTHER}` });
}

describe('API authentication (API_TOKENS set)', () => {
  it('When the Authorization header is missing, then 5007/401 with a WWW-Authenticate: Bearer challenge', async () => {
    const { app } = authedApp();
    const res = await request(app).get('/api/score');
    expect(res.status).toBe(401);
    expect(res.body).toEqual({
      code: 5007,
      data: 'missing bearer token: send "Authorization: Bearer <token>"',
      message: 'authException',
    });
    expect(res.headers['www-authenticate']).toBe('Bearer realm="vulnscan"');
    expect(res.headers['x-request-id']).toBeDefined();
  });

  it('When the token is wrong but of the same length, then 5007/401 with error="invalid_token"', async () => {
    const { app } = authedApp();
    const wrong = TOKEN.replace(/z$/, 'q');
    expect(wrong).toHaveLength(TOKEN.length);
    const res = await request(app).get('/api/score').set('Authorization', `Bearer ${wrong}`);
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ code: 5007, data: 'invalid bearer token', message: 'authException' });
    expect(res.headers['www-authenticate']).toBe('Bearer realm="vulnscan", error="invalid_token"');
  });

  it.each([
    ['shorter', 'x'],
    ['longer', `${TOKEN}${TOKEN}`],
    ['a prefix of the real one', TOKEN.slice(0, 8)],
  ])('When the token is %s, then 5007/401', async (_name, token) => {
    const { app } = authedApp();
    const res = await request(app).get('/api/score').set('Authorization', `Bearer ${token}`);
    expect(res.status).toBe(401);
    expect(res.body.code).toBe(5007);
    expect(res.headers['www-authenticate']).toMatch(/^Bearer /);
  });

  it.each([
    ['Basic credentials', `Basic ${Buffer.from(`u:${TOKEN}`).toString('base64')}`],
    ['the bare token', TOKEN],
    ['"Bearer" without a token', 'Bearer '],
  ])('When the header holds %s, then 5007/401 with error="invalid_request"', async (_name, header) => {
    const { app } = authedApp();
    const res = await request(app).get('/api/score').set('Authorization', header);
    expect(res.status).toBe(401);
    expect(res.body.code).toBe(5007);
    expect(res.headers['www-authenticate']).toBe('Bearer realm="vulnscan", error="invalid_request"');
  });

  it.each([TOKEN, OTHER])('When a configured token (%s) is sent, then the route answers', async (token) => {
    const { app } = authedApp();
    const res = await request(app).get('/api/score').set('Authorization', `Bearer ${token}`);
    expect(res.status).toBe(200);
    expect(res.body.code).toBe(0);
  });

  it('When the scheme is written in lower case, then the token is still accepted', async () => {
    const { app } = authedApp();
    const res = await request(app).get('/api/score').set('Authorization', `bearer ${TOKEN}`);
    expect(res.status).toBe(200);
  });

  it.each(['/api/openapi.json', '/api/docs/', '/api/nothing-here'])(
    'When %s is requested without a token, then 5007/401 (everything under /api is protected)',
    async (path) => {
      const { app } = authedApp();
      const res = await request(app).get(path);
      expect(res.status).toBe(401);
      expect(res.body.code).toBe(5007);
    },
  );

  it('When a write is refused, then nothing is stored', async () => {
    const { app } = authedApp();
    await request(app).put('/api/score').send({ low: 7 }).expect(401);
    const res = await request(app).get('/api/score').set('Authorization', `Bearer ${TOKEN}`);
    expect(res.body.data.low).toBe(3);
  });

  it.each(['/healthz', '/readyz', '/metrics'])(
    'When %s is requested without a token, then it answers 200',
    async (path) => {
      const { app } = authedApp();
      const res = await request(app).get(path);
      expect(res.status).toBe(200);
    },
  );

  it('When API_TOKENS is set, then no "open API" warning is logged', () => {
    const { logs } = authedApp();
    expect(logs.text).not.toMatch(/API_TOKENS is empty/);
  });
});

describe('API authentication (API_TOKENS empty)', () => {
  it('When no token is configured, then /api answers without one and a warning was logged at start', async () => {
    const { app, logs } = buildTestApp();
    const res = await request(app).get('/api/score');
    expect(res.status).toBe(200);
    const warning = logs.records().find((r) => String(r.msg).includes('API_TOKENS is empty'));
    expect(warning?.level).toBe(40);
  });

  it('When a configured token is short, then a warning says so without logging the token', () => {
    const { logs } = buildTestApp({ API_TOKENS: 'short-tok' });
    expect(logs.text).toMatch(/shorter than 16 characters/);
    expect(logs.text).not.toContain('short-tok');
  });
});

describe('CORS', () => {
  it('When the origin is allowed, then the reply allows it and exposes X-Total-Count and X-Request-Id', async () => {
    const { app } = buildTestApp({ CORS_ORIGINS: `${CONSOLE},https://other.example.com` });
    const res = await request(app).get('/api/score').set('Origin', CONSOLE);
    expect(res.status).toBe(200);
    expect(res.headers['access-control-allow-origin']).toBe(CONSOLE);
    expect(res.headers['access-control-expose-headers']).toBe('X-Total-Count,X-Request-Id');
    expect(res.headers.vary).toMatch(/Origin/);
  });

  it('When the origin is not allowed, then the reply carries no CORS headers', async () => {
    const { app } = buildTestApp({ CORS_ORIGINS: CONSOLE });
    const res = await request(app).get('/api/score').set('Origin', 'https://evil.example.com');
    expect(res.headers['access-control-allow-origin']).toBeUndefined();
    expect(res.headers['access-control-expose-headers']).toBeUndefined();
  });

  it('When CORS_ORIGINS is empty, then no origin is allowed', async () => {
    const { app } = buildTestApp();
    const res = await request(app).get('/api/score').set('Origin', CONSOLE);
    expect(res.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('When an allowed origin sends a preflight while auth is on, then it is answered 204 without a token', async () => {
    const { app } = buildTestApp({ CORS_ORIGINS: CONSOLE, API_TOKENS: TOKEN });
    const res = await request(app)
      .options('/api/score')
      .set('Origin', CONSOLE)
      .set('Access-Control-Request-Method', 'PUT')
      .set('Access-Control-Request-Headers', 'authorization,content-type');
    expect(res.status).toBe(204);
    expect(res.headers['access-control-allow-origin']).toBe(CONSOLE);
    expect(res.headers['access-control-allow-methods']).toMatch(/PUT/);
    expect(res.headers['access-control-allow-headers']).toBe('authorization,content-type');
  });

  it('When a disallowed origin sends a preflight, then no CORS header allows it', async () => {
    const { app } = buildTestApp({ CORS_ORIGINS: CONSOLE });
    const res = await request(app)
      .options('/api/score')
      .set('Origin', 'https://evil.example.com')
      .set('Access-Control-Request-Method', 'PUT');
    expect(res.headers['access-control-allow-origin']).toBeUndefined();
  });
});

describe('security headers', () => {
  it('When the API answers, then helmet headers are set and the CSP forbids everything', async () => {
    const { app } = buildTestApp();
    const res = await request(app).get('/api/score');
    expect(res.headers['content-security-policy']).toBe(
      "default-src 'none';frame-ancestors 'none';base-uri 'none';form-action 'none'",
    );
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['x-frame-options']).toBe('SAMEORIGIN');
    expect(res.headers['x-powered-by']).toBeUndefined();
  });

  it('When Swagger UI is loaded, then its page, scripts and styles are served under a CSP that allows them', async () => {
    const { app } = buildTestApp();
    const page = await request(app).get('/api/docs/');
    expect(page.status).toBe(200);
    const csp = page.headers['content-security-policy'];
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("style-src 'self' 'unsafe-inline'");
    expect(csp).toContain("img-src 'self' data:");
    expect(csp).not.toContain('upgrade-insecure-requests');
    // Every script the page references is served from /api/docs itself (no inline script).
    const scripts = [...page.text.matchAll(/<script src="\.\/([^"]+)"/g)].map((m) => m[1]);
    expect(scripts).toEqual(['swagger-ui-bundle.js', 'swagger-ui-standalone-preset.js', 'swagger-ui-init.js']);
    expect(page.text).not.toMatch(/<script>/);
    for (const file of scripts) {
      const res = await request(app).get(`/api/docs/${file}`);
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toMatch(/javascript/);
    }
    expect((await request(app).get('/api/docs/swagger-ui.css')).status).toBe(200);
  });
});
