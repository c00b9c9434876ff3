import { OpenAPIRegistry, OpenApiGeneratorV31 } from '@asteasolutions/zod-to-openapi';
import { OPENAPI_REGISTRARS } from './routes';

/** Builds the OpenAPI 3.1 document from the same zod schemas the routes validate with. */
export function buildOpenApiDocument(): ReturnType<OpenApiGeneratorV31['generateDocument']> {
  const registry = new OpenAPIRegistry();
  for (const register of OPENAPI_REGISTRARS) register(registry);
  return new OpenApiGeneratorV31(registry.definitions).generateDocument({
    openapi: '3.1.0',
    info: {
      title: 'vulnscan API',
      version: '1.0.0',
      description:
        'Container-image vulnerability scanning: registries, images, findings and scores. Every reply is `{code, data, message}`; ' +
        'errors: 5000 internal (500), 5001 Clair (502/504), 5002 registry (502), 5003 bad parameter (400), 5004 not found (404), ' +
        '5005 database (503), 5006 conflict (409), 5007 authentication (401).',
    },
    servers: [{ url: '/' }],
  });
}
