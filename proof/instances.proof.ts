/**
 * Several instances: three service processes on one FerretDB scan 50 images of a real registry
 * through a real Clair v4, and one instance is SIGKILLed midway.
 *
 * Each instance reaches Clair through its own port of a small counting reverse proxy, so every
 * index request (POST /indexer/api/v1/index_report) is recorded with the manifest digest, the
 * instance that sent it, and when it started and ended. Figures:
 * - Clair index requests per digest, at most: 1 unless the killed instance was indexing it;
 * - digests indexed more than once other than a re-index of what the killed instance left
 *   unfinished (must be 0);
 * - jobs claimed twice: index requests of one digest from two instances overlapping in time (must be 0);
 * - images settled (scan done or failed) out of 50, and images not settled (must be 0).
 * @proof-timeout 420
 */
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { MongoClient } from 'mongodb';
import { startClair } from './lib/clair';
import { startFerret } from './lib/ferretdb';
import { figure, note, runProof, workDir } from './lib/figures';
import { sleep, waitFor } from './lib/proc';
import { pushImages, startRegistry } from './lib/registry';
import { startService, type ServiceProcess } from './lib/service';

const IMAGES = Number(process.env.INSTANCES_IMAGES || 50);
const DB = 'vulnscan_instances';
const NAMES = ['a', 'b', 'c'] as const;

interface IndexCall {
  digest: string;
  instance: string;
  start: number;
  end: number | null;
  status: number | null;
  /** The instance went away before the reply reached it. */
  cut: boolean;
}

/** A reverse proxy to Clair for one instance, recording its index requests in `calls`. */
async function countingProxy(target: URL, instance: string, calls: IndexCall[]): Promise<Server> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      let call: IndexCall | null = null;
      if (req.method === 'POST' && req.url?.startsWith('/indexer/api/v1/index_report')) {
        let digest = '?';
        try {
          digest = String((JSON.parse(body.toString()) as { hash?: string }).hash);
        } catch {
          // not JSON: counted under '?'
        }
        call = { digest, instance, start: Date.now(), end: null, status: null, cut: false };
        calls.push(call);
      }
      const up = httpRequest(
        {
          host: target.hostname,
          port: target.port,
          method: req.method,
          path: req.url,
          headers: { ...req.headers, host: target.host },
        },
        (upRes) => {
          res.writeHead(upRes.statusCode ?? 502, upRes.headers);
          upRes.pipe(res);
          upRes.on('end', () => {
            if (call) Object.assign(call, { end: Date.now(), status: upRes.statusCode ?? null });
          });
        },
      );
      up.on('error', () => res.destroy());
      // The instance went away (SIGKILL): the call ends there.
      res.on('close', () => {
        if (call && !res.writableFinished) Object.assign(call, { end: Date.now(), cut: true });
      });
      up.end(body);
    });
  });
  server.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  return server;
}

void runProof('instances', async (onExit) => {
  const dir = workDir('instances');
  const t0 = Date.now();
  const ferret = await startFerret(dir);
  onExit(() => ferret.stop());
  const clair = await startClair(dir);
  onExit(() => clair.stop());
  const registry = await startRegistry(dir);
  onExit(() => registry.stop());
  note(`instances: pushing ${IMAGES} images`);
  const digests = await pushImages(registry.url, IMAGES);

  const calls: IndexCall[] = [];
  const uri = new URL(ferret.uri);
  uri.pathname = `/${DB}`;
  const services: Record<string, ServiceProcess> = {};
  for (const name of NAMES) {
    const proxy = await countingProxy(new URL(clair.url), name, calls);
    onExit(() => new Promise((r) => proxy.close(r)));
    services[name] = await startService(
      dir,
      {
        MONGODB_URI: uri.toString(),
        CLAIR_URL: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`,
        LOG_LEVEL: 'info',
        SCAN_CONCURRENCY: '2',
        SCAN_POLL_MS: '200',
        // A killed instance's jobs are taken over once its lease lapses.
        SCAN_LEASE_MS: '10000',
        SCAN_RETRY_BASE_MS: '500',
        SCHEDULER: 'false',
      },
      { name: `svc-${name}` },
    );
    onExit(() => services[name].stop());
  }
  note(`instances: 3 instances up after ${Math.round((Date.now() - t0) / 1000)} s`);

  // Adding the registry through one instance starts its discovery and the scan of every image.
  const res = await fetch(`${services.a.url}/api/repository`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ repository: registry.host, port: registry.port, name: 'proof' }),
  });
  if (!res.ok) throw new Error(`creating the registry failed: ${res.status} ${await res.text()}`);
  await fetch(`${services.c.url}/api/scanner/scan`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({}),
  });

  const client = await MongoClient.connect(uri.toString());
  onExit(() => client.close());
  const images = client.db(DB).collection('images');
  const settled = () => images.countDocuments({ scanStatus: { $in: ['done', 'failed'] } });

  // Midway: kill instance b while it holds work (an index request in flight when possible).
  await waitFor('a third of the images to be scanned', async () => (await settled()) >= IMAGES / 3, 240_000, 200);
  await waitFor('b to be indexing', () => calls.some((c) => c.instance === 'b' && c.end === null), 10_000, 20).catch(
    () => note('instances: b had no index request in flight; killing it anyway'),
  );
  await services.b.kill('SIGKILL');
  note(`instances: SIGKILLed b with ${await settled()} of ${IMAGES} images settled`);

  await waitFor(
    'every image to be settled',
    async () => (await settled()) >= IMAGES,
    Math.max(30_000, 300_000 - (Date.now() - t0)),
    500,
  ).catch((err: Error) => note(`instances: ${err.message}`));
  await sleep(1000);

  const total = await images.countDocuments({});
  const done = await images.countDocuments({ scanStatus: 'done' });
  const failed = await images.countDocuments({ scanStatus: 'failed' });
  const byDigest = new Map<string, IndexCall[]>();
  for (const c of calls) byDigest.set(c.digest, [...(byDigest.get(c.digest) ?? []), c]);

  let maxPerDigest = 0;
  let unexplained = 0;
  let reindexedAfterKill = 0;
  let overlapping = 0;
  for (const [digest, list] of byDigest) {
    maxPerDigest = Math.max(maxPerDigest, list.length);
    // An index request of the killed instance cut off by the kill explains exactly one more.
    const cutByKill = list.filter((c) => c.instance === 'b' && c.cut);
    if (list.length > 1) {
      if (list.length - cutByKill.length > 1) {
        unexplained++;
        note(`instances: ${digest} indexed ${list.length} times: ${JSON.stringify(list)}`);
      } else reindexedAfterKill++;
    }
    for (let i = 0; i < list.length; i++) {
      for (let j = i + 1; j < list.length; j++) {
        const [x, y] = [list[i], list[j]];
        if (x.instance === y.instance) continue;
        const xEnd = x.end ?? Infinity;
        const yEnd = y.end ?? Infinity;
        if (x.start < yEnd && y.start < xEnd) overlapping++;
      }
    }
  }
  const perInstance = Object.fromEntries(NAMES.map((n) => [n, calls.filter((c) => c.instance === n).length]));
  note(`instances: index requests per instance ${JSON.stringify(perInstance)}`);

  figure('instances', NAMES.length);
  figure('images pushed', IMAGES);
  figure('digests', new Set(digests).size);
  figure('Clair index requests', calls.length);
  figure('Clair index requests per digest, at most', maxPerDigest);
  figure('digests re-indexed after the kill (the killed instance was indexing them)', reindexedAfterKill);
  figure('digests indexed more than once otherwise', unexplained, { mustBeZero: true });
  figure('jobs claimed twice (overlapping index requests from two instances)', overlapping, { mustBeZero: true });
  figure('images settled', done + failed);
  figure('images failed', failed);
  figure('images not settled', total - done - failed + Math.max(0, IMAGES - total), { mustBeZero: true });
  figure('seconds', Math.round((Date.now() - t0) / 1000));
});
