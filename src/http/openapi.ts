import { OpenAPIRegistry, OpenApiGeneratorV31, type RouteConfig } from '@asteasolutions/zod-to-openapi';
import { ErrorEnvelope } from './envelope';
import { OPENAPI_REGISTRARS } from './routes';

const BEARER = 'bearerAuth';

/** Adds the 401 (5007) reply to every /api operation, so module registrars need not repeat it. */
class ApiRegistry extends OpenAPIRegistry {
  override registerPath(route: RouteConfig): void {
    if (!route.path.startsWith('/api/') || route.responses[401]) return super.registerPath(route);
    super.registerPath({
      ...route,
      responses: {
        ...route.responses,
        401: {
          description: 'missing or invalid bearer token while API_TOKENS is set (5007), with WWW-Authenticate: Bearer',
          content: { 'application/json': { schema: ErrorEnvelope } },
        },
      },
    });
  }
}

/** Builds the OpenAPI 3.1 document from the same zod schemas the routes validate with. */
export function buildOpenApiDocument(): ReturnType<OpenApiGeneratorV31['generateDocument']> {
  const registry = new ApiRegistry();
  registry.registerComponent('securitySchemes', BEARER, {
    type: 'http',
    scheme: 'bearer',
    description:
      "One of the tokens in the server's API_TOKENS. Required on every /api route when API_TOKENS is set; " +
      '/healthz, /readyz and /metrics never need it.',
  });
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
    // Operations outside /api (/healthz, /readyz, /metrics) override this with an empty requirement.
    security: [{ [BEARER]: [] }],
  });
}
