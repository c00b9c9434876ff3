import type { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi';
import { Router } from 'express';
import { z } from 'zod';
import { instanceId } from '../../db/lease';
import type { AppDeps } from '../../http/deps';
import { errorResponse, jsonContent, totalCountHeader } from '../../http/openapi-parts';
import { EnvelopeOf, ok } from '../../http/envelope';
import { inputOf, validate } from '../../http/middleware/validate';
import { registriesServiceFrom } from '../registries';
import { Page } from '../scanner/scanner.schemas';
import { createCveSummarizer, type CveSummarizer } from './cve-summaries';
import { sendDownload } from './send-download';
import {
  CveImagesParams,
  CveImagesQuery,
  CveImageView,
  CveView,
  HistoryPoint,
  HistoryQuery,
  ImageExportQuery,
  ListCvesBody,
  RegistryExportQuery,
} from './vulnerabilities.schemas';
import { createVulnerabilitiesService, type VulnerabilitiesService } from './vulnerabilities.service';

export interface Vulnerabilities {
  service: VulnerabilitiesService;
  summarizer: CveSummarizer;
}

const built = new WeakMap<AppDeps, Vulnerabilities>();

/** The service and the CVE summary pass of one app, built once per deps object. */
export function vulnerabilitiesFrom(deps: AppDeps): Vulnerabilities {
  let v = built.get(deps);
  if (v) return v;
  v = {
    service: createVulnerabilitiesService({ registries: registriesServiceFrom(deps) }),
    summarizer: createCveSummarizer({
      logger: deps.logger,
      instance: deps.instanceId ?? instanceId(),
      intervalMs: deps.config.cveSummaries.intervalMs,
      batch: deps.config.cveSummaries.batch,
      leaseMs: deps.config.scan.leaseMs,
    }),
  };
  built.set(deps, v);
  return v;
}

/** /api/vulnerabilities: POST (unique CVEs), GET /:cveId/images (where one is). */
export function vulnerabilitiesRouter(deps: AppDeps): Router {
  const { service } = vulnerabilitiesFrom(deps);
  const router = Router();

  router.post('/', validate({ body: ListCvesBody }), async (_req, res) => {
    const { body } = inputOf<{ body: ListCvesBody }>(res);
    const page = await service.listCves(body);
    res.set('X-Total-Count', String(page.count)).json(ok(page));
  });

  router.get('/:cveId/images', validate({ params: CveImagesParams, query: CveImagesQuery }), async (_req, res) => {
    const { params, query } = inputOf<{ params: CveImagesParams; query: CveImagesQuery }>(res);
    const page = await service.listCveImages(params.cveId, query);
    res.set('X-Total-Count', String(page.count)).json(ok(page));
  });

  return router;
}

/**
 * The intelligence endpoints under /api/scanner (GET /history, /image/export, /export), mounted
 * before the scanner's own router so that module stays untouched.
 */
export function scannerIntelRouter(deps: AppDeps): Router {
  const { service } = vulnerabilitiesFrom(deps);
  const router = Router();

  router.get('/history', validate({ query: HistoryQuery }), async (_req, res) => {
    const { query } = inputOf<{ query: HistoryQuery }>(res);
    const page = await service.history(query);
    res.set('X-Total-Count', String(page.count)).json(ok(page));
  });

  router.get('/image/export', validate({ query: ImageExportQuery }), async (req, res) => {
    const { query } = inputOf<{ query: ImageExportQuery }>(res);
    await sendDownload(res, await service.exportImage(query), req.log);
  });

  router.get('/export', validate({ query: RegistryExportQuery }), async (req, res) => {
    const { query } = inputOf<{ query: RegistryExportQuery }>(res);
    await sendDownload(res, await service.exportRegistry(query), req.log);
  });

  return router;
}

export function registerVulnerabilitiesOpenApi(registry: OpenAPIRegistry): void {
  const json = jsonContent;
  const err = errorResponse;
  const total = totalCountHeader();
  registry.registerPath({
    method: 'post',
    path: '/api/vulnerabilities',
    tags: ['vulnerabilities'],
    summary:
      'Unique CVEs of open findings across present images (of one registry or all): highest level, affected images, tags and digests, fixable; ' +
      'sorted by cveId, level (severity), images, tags or fixable; searched (literal, case-insensitive) on cveId, description and package. ' +
      'Served from summaries updated in the background (seconds behind a scan; see docs/architecture.md).',
    request: { body: { required: true, content: json(ListCvesBody) } },
    responses: {
      200: { description: 'a page of CVEs', headers: total, content: json(EnvelopeOf(Page(CveView))) },
      400: err('invalid body (5003)'),
      404: err('unknown registry (5004)'),
      503: err('database unavailable (5005)'),
    },
  });
  registry.registerPath({
    method: 'get',
    path: '/api/vulnerabilities/{cveId}/images',
    tags: ['vulnerabilities'],
    summary:
      'Every present registry, image, tag, platform and digest a CVE affects, with package, version and fixed version, in digest order',
    request: { params: CveImagesParams, query: CveImagesQuery },
    responses: {
      200: { description: 'a page of affected images', headers: total, content: json(EnvelopeOf(Page(CveImageView))) },
      400: err('malformed cveId or query (5003)'),
      404: err('no open finding of this CVE, or unknown registry (5004)'),
      503: err('database unavailable (5005)'),
    },
  });
  registry.registerPath({
    method: 'get',
    path: '/api/scanner/history',
    tags: ['scanner'],
    summary:
      "An image tag's history: one point per scan (and per refresh that changed something) with per-level counts, packages, score and digest",
    request: { query: HistoryQuery },
    responses: {
      200: { description: 'a page of history points', headers: total, content: json(EnvelopeOf(Page(HistoryPoint))) },
      400: err('invalid query (5003)'),
      404: err('unknown registry or image (5004)'),
      503: err('database unavailable (5005)'),
    },
  });
  const file = {
    'text/csv': {
      schema: z.string().meta({
        description:
          'CSV (RFC 4180, CRLF) with columns registry,image,tag,digest,cveId,package,version,fixedBy,level,link,description,firstSeen; ' +
          "cells starting with = + - @ are prefixed with ' (formula injection)",
      }),
    },
    'application/json': {
      schema: z
        .array(z.record(z.string(), z.string()))
        .meta({ description: 'a JSON array of rows keyed like the CSV columns, plus platform' }),
    },
  };
  const disposition = {
    'Content-Disposition': { description: 'attachment; filename="…"', schema: { type: 'string' as const } },
  };
  registry.registerPath({
    method: 'get',
    path: '/api/scanner/image/export',
    tags: ['scanner'],
    summary:
      'Download the open findings of one tag (each platform) as CSV or JSON, streamed; an error mid-stream aborts the transfer',
    request: { query: ImageExportQuery },
    responses: {
      200: { description: 'the file', headers: disposition, content: file },
      400: err('invalid query, e.g. a format other than csv or json (5003)'),
      404: err('unknown registry or image (5004)'),
      503: err('database unavailable (5005)'),
    },
  });
  registry.registerPath({
    method: 'get',
    path: '/api/scanner/export',
    tags: ['scanner'],
    summary:
      'Download the open findings of every present image of a registry as CSV or JSON, streamed; an error mid-stream aborts the transfer',
    request: { query: RegistryExportQuery },
    responses: {
      200: { description: 'the file', headers: disposition, content: file },
      400: err('invalid query (5003)'),
      404: err('unknown registry (5004)'),
      503: err('database unavailable (5005)'),
    },
  });
}
