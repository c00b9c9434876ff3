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
});
