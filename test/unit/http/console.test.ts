import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import express from 'express';
import request from 'supertest';
import { consoleRouter } from '../../../src/http/console';

/** An app with the console router and a JSON stand-in for everything after it (the API's 404). */
function appWith(dir: string) {
  const app = express();
  app.use(consoleRouter(dir));
  app.use((_req, res) => {
    res.status(404).json({ code: 5004, data: 'after the console', message: 'notFoundException' });
  });
  return app;
}

describe('consoleRouter', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'vulnscan-console-'));
    mkdirSync(path.join(dir, 'assets'));
    writeFileSync(path.join(dir, 'index.html'), '<!doctype html><title>console</title>');
    writeFileSync(path.join(dir, 'assets', 'index-abc123.js'), 'console.log(1)');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('When a client route is asked for, then index.html comes back, uncached, under the console CSP', async () => {
    const res = await request(appWith(dir)).get('/registries/10.0.0.5:5000').expect(200);
    expect(res.text).toContain('<title>console</title>');
    expect(res.headers['cache-control']).toBe('no-cache');
    expect(res.headers['content-security-policy']).toContain("script-src 'self'");
    expect(res.headers['content-security-policy']).toContain("frame-ancestors 'none'");
  });

  it('When a hashed asset is asked for, then it is cached for a year; a missing one is a 404, not index.html', async () => {
    const res = await request(appWith(dir)).get('/assets/index-abc123.js').expect(200);
    expect(res.headers['cache-control']).toContain('immutable');
    const missing = await request(appWith(dir)).get('/assets/nope.js').expect(404);
    expect(missing.text).not.toContain('<title>');
  });

  it.each(['/api', '/api/repository', '/api/nothing', '/healthz', '/readyz', '/metrics'])(
    'When %s is asked for, then the console stays out of the way',
    async (p) => {
      const res = await request(appWith(dir)).get(p).expect(404);
      expect(res.body).toMatchObject({ code: 5004, data: 'after the console' });
      expect(res.headers['content-security-policy']).toBeUndefined();
    },
  );

  it('When a non-GET request reaches it, then it passes it on', async () => {
    await request(appWith(dir))
      .post('/registries')
      .expect(404, /after the console/);
  });

  it('When the console is not built, then / says how to build it (503), and the API is untouched', async () => {
    const app = appWith(path.join(dir, 'missing'));
    const res = await request(app).get('/').expect(503);
    expect(res.headers['content-type']).toMatch(/text\/plain/);
    expect(res.text).toContain('npm run build');
    await request(app)
      .get('/api/score')
      .expect(404, /after the console/);
  });
});
