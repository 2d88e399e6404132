import { Router } from 'express';
import { buildOpenApiDocument } from './openapi.document.js';

/** `GET /api/openapi.json`: the OpenAPI 3.1 description of the HTTP API (public, like the API's shape). */
export function openApiRoutes(): Router {
  const router = Router();
  let document: string | undefined;
  router.get('/api/openapi.json', (_req, res) => {
    // Built on first use, then kept: it only changes with the code.
    document ??= JSON.stringify(buildOpenApiDocument());
    res.setHeader('Cache-Control', 'public, max-age=300');
    res.type('application/json').send(document);
  });
  return router;
}
