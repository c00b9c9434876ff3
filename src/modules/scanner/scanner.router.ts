import type { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi';
import { Router } from 'express';
import { z } from 'zod';
import { createClairClient, type ClairClient } from '../../clients/clair';
import { instanceId } from '../../db/lease';
import type { Ctx } from '../../http/context';
import { outboundOf, type AppDeps } from '../../http/deps';
import { errorResponse, jsonContent, totalCountHeader } from '../../http/openapi-parts';
import { EnvelopeOf, ok } from '../../http/envelope';
import { inputOf, validate } from '../../http/middleware/validate';
import { alertsFrom } from '../alerts';
import { registriesServiceFrom } from '../registries';
import { createRefresher, type Refresher } from './refresh';
import { createScanWorker, type ScanWorker } from './scan.worker';
import {
  FindingView,
  GetImageQuery,
  ImageView,
  JobsProgress,
  JobsQuery,
  ListFindingsBody,
  ListImagesBody,
  Page,
  ScanAllResult,
  ScanRequestBody,
  ScanRequestResult,
} from './scanner.schemas';
import { createScannerService, type ScannerService } from './scanner.service';

export interface Scanner {
  service: ScannerService;
  worker: ScanWorker;
  refresher: Refresher;
  clair: ClairClient;
  /** Starts the worker (when SCAN_WORKER is on) and the periodic refresh. */
  start(): void;
  /** Stops both, waiting for scans and discoveries in flight up to `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

const scanners = new WeakMap<AppDeps, Scanner>();

/** The Clair client the deps carry, else one built from CLAIR_* configuration. */
export function clairFrom(deps: AppDeps): ClairClient {
  if (!deps.clair) {
    const c = deps.config.clair;
    deps.clair = createClairClient({
      version: c.version,
      baseUrl: c.url,
      timeoutMs: c.timeoutMs,
      indexTimeoutMs: c.indexTimeoutMs,
      psk: c.psk,
      logger: deps.logger,
      outbound: outboundOf(deps),
    });
  }
  return deps.clair;
}

/** The scan pipeline of one app (service, worker, refresher), built once per deps object. */
export function scannerFrom(deps: AppDeps): Scanner {
  let s = scanners.get(deps);
  if (s) return s;
  const clair = clairFrom(deps);
  const registries = registriesServiceFrom(deps);
  const instance = deps.instanceId ?? instanceId();
  const scan = deps.config.scan;
  // The worker is built after the service; discoveries wake its idle loops through this late binding.
  let wakeWorker = () => {};
  const service = createScannerService({ registries, clair, scan, instance, onQueued: () => wakeWorker() });
  const alerts = alertsFrom(deps).service;
  const worker = createScanWorker({
    registries,
    clair,
    scan,
    clairIndexTimeoutMs: deps.config.clair.indexTimeoutMs,
    logger: deps.logger,
    instance,
    alerts,
  });
  wakeWorker = () => worker.wake();
  const refresher = createRefresher({ clair, scan, logger: deps.logger, instance, alerts });
  s = {
    service,
    worker,
    refresher,
    clair,
    start() {
      if (scan.worker) worker.start();
      refresher.start();
    },
    async stop(graceMs = 5000) {
      await Promise.all([
        worker.stop(graceMs),
        refresher.stop(),
        Promise.race([service.idle(), new Promise((r) => setTimeout(r, graceMs).unref())]),
      ]);
    },
  };
  scanners.set(deps, s);
  return s;
}

const ctxOf = (req: { log: AppDeps['logger']; id?: unknown }): Ctx => ({
  log: req.log,
  requestId: String(req.id ?? '') || undefined,
});

/**
 * /api/scanner: POST (image list), GET (one image), POST /image (its findings), POST /scan
 * (discover and enqueue), GET /jobs (progress).
 */
export function scannerRouter(deps: AppDeps): Router {
  const { service } = scannerFrom(deps);
  const router = Router();

  router.post('/', validate({ body: ListImagesBody }), async (_req, res) => {
    const { body } = inputOf<{ body: ListImagesBody }>(res);
    const page = await service.listImages(body);
    res.set('X-Total-Count', String(page.count)).json(ok(page));
  });

  router.get('/', validate({ query: GetImageQuery }), async (_req, res) => {
    const { query } = inputOf<{ query: GetImageQuery }>(res);
    res.json(ok(await service.getImage(query)));
  });

  router.post('/image', validate({ body: ListFindingsBody }), async (_req, res) => {
    const { body } = inputOf<{ body: ListFindingsBody }>(res);
    const page = await service.listFindings(body);
    res.set('X-Total-Count', String(page.count)).json(ok(page));
  });

  router.post('/scan', validate({ body: ScanRequestBody }), async (req, res) => {
    const { body } = inputOf<{ body: ScanRequestBody }>(res);
    const ctx = ctxOf(req);
    const { repository } = body;
    res
      .status(202)
      .json(
        ok(repository ? await service.requestScan({ ...body, repository }, ctx) : await service.scanAll(body, ctx)),
      );
  });

  router.get('/jobs', validate({ query: JobsQuery }), async (_req, res) => {
    const { query } = inputOf<{ query: JobsQuery }>(res);
    res.json(ok(await service.progress(query.repository)));
  });

  return router;
}

export function registerScannerOpenApi(registry: OpenAPIRegistry): void {
  const json = jsonContent;
  const err = errorResponse;
  const total = totalCountHeader();
  registry.registerPath({
    method: 'post',
    path: '/api/scanner',
    tags: ['scanner'],
    summary:
      'Images (tags × platforms) of one registry or all, paged, sorted, searched (literal, case-insensitive terms on image, tag, OS)',
    request: { body: { required: true, content: json(ListImagesBody) } },
    responses: {
      200: { description: 'a page of images', headers: total, content: json(EnvelopeOf(Page(ImageView))) },
      400: err('invalid body (5003)'),
      404: err('unknown registry (5004)'),
      503: err('database unavailable (5005)'),
    },
  });
  registry.registerPath({
    method: 'get',
    path: '/api/scanner',
    tags: ['scanner'],
    summary: 'One image with its counts, score and scan state',
    request: { query: GetImageQuery },
    responses: {
      200: { description: 'the image', content: json(EnvelopeOf(ImageView)) },
      400: err('invalid query (5003)'),
      404: err('unknown registry or image (5004)'),
      503: err('database unavailable (5005)'),
    },
  });
  registry.registerPath({
    method: 'post',
    path: '/api/scanner/image',
    tags: ['scanner'],
    summary:
      "An image's vulnerabilities, paged, sorted (level sorts by severity), searched on cveId, package, level, version, description",
    request: { body: { required: true, content: json(ListFindingsBody) } },
    responses: {
      200: { description: 'a page of findings', headers: total, content: json(EnvelopeOf(Page(FindingView))) },
      400: err('invalid body (5003)'),
      404: err('unknown registry or image (5004)'),
      503: err('database unavailable (5005)'),
    },
  });
  registry.registerPath({
    method: 'post',
    path: '/api/scanner/scan',
    tags: ['scanner'],
    summary:
      'Discover a registry (or one image, or one tag) and queue a scan for every digest not scanned yet, changed or failed (force: every digest). ' +
      'The registry is checked before the reply; discovery and scans run in the background (see /api/scanner/jobs). ' +
      'Without repository: scan all, i.e. start the discovery of every registry (not pinged first; ScanAllResult).',
    request: { body: { required: true, content: json(ScanRequestBody) } },
    responses: {
      202: {
        description: 'discovery started (or already running: started false); scan-all lists every registry',
        content: json(EnvelopeOf(z.union([ScanRequestResult, ScanAllResult]))),
      },
      400: err('invalid body (5003)'),
      404: err('unknown registry (5004)'),
      502: err('the registry cannot be reached or refused the credentials (5002)'),
      503: err('database unavailable (5005)'),
    },
  });
  registry.registerPath({
    method: 'get',
    path: '/api/scanner/jobs',
    tags: ['scanner'],
    summary: 'Scan progress of one registry (or all): images by scan state, jobs by state, percent done, time left',
    request: { query: JobsQuery },
    responses: {
      200: { description: 'progress', content: json(EnvelopeOf(JobsProgress)) },
      400: err('invalid query (5003)'),
      404: err('unknown registry (5004)'),
      503: err('database unavailable (5005)'),
    },
  });
}
