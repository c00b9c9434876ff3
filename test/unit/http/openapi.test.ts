import { readFileSync } from 'node:fs';
import path from 'node:path';
import { buildOpenApiDocument } from '../../../src/http/openapi';

describe('OpenAPI document', () => {
  it('When the committed docs/openapi.json is compared with the generated one, then they are equal (run `npm run openapi`)', () => {
    const committed = JSON.parse(readFileSync(path.join(__dirname, '../../../docs/openapi.json'), 'utf8'));
    expect(committed).toEqual(JSON.parse(JSON.stringify(buildOpenApiDocument())));
  });

  it('When generated, then it documents /api/score GET and PUT with the Weights schema', () => {
    const doc = buildOpenApiDocument();
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths?.['/api/score'] ?? {}).sort()).toEqual(['get', 'put']);
    expect(doc.components?.schemas?.Weights).toBeDefined();
  });

  it('When generated, then /healthz, /readyz and /metrics are documented and need no token', () => {
    const doc = buildOpenApiDocument();
    for (const path of ['/healthz', '/readyz', '/metrics']) {
      expect(doc.paths?.[path]?.get?.security).toEqual([]);
    }
    expect(doc.paths?.['/readyz']?.get?.responses?.[503]).toBeDefined();
    expect(Object.keys(doc.paths?.['/metrics']?.get?.responses?.[200]?.content ?? {})).toEqual(['text/plain']);
  });

  it('When generated, then the bearer scheme applies to the document and every /api operation lists 401', () => {
    const doc = buildOpenApiDocument();
    expect(doc.components?.securitySchemes?.bearerAuth).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(doc.security).toEqual([{ bearerAuth: [] }]);
    const apiOps = Object.entries(doc.paths ?? {})
      .filter(([path]) => path.startsWith('/api/'))
      .flatMap(([, item]) => [item.get, item.put, item.post, item.delete].filter(Boolean));
    expect(apiOps.length).toBeGreaterThan(0);
    for (const op of apiOps) expect(op?.responses?.[401]).toBeDefined();
  });
});
