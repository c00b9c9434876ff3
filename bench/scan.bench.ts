import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { MongoClient } from 'mongodb';
import { ensureClairBinaries } from '../scripts/ensure-clair';
import { eachLimit } from '../src/modules/scanner/scanner.service';
import { startClair } from '../proof/lib/clair';
import { pushImages, startRegistry, type RegistryProcess } from '../proof/lib/registry';
import { startService } from '../proof/lib/service';
import { DEBIAN_PACKAGES } from '../test/fixtures/clair/debian-packages';
import { MT } from '../test/helpers/oci-image';
import { percentile, report } from './lib';

/**
 * Issue 16 item 6 (scan part): N new images scanned three ways in one run, against one real Clair v4
 * (fixture vulnerabilities imported) at the same concurrency C:
 *
 * 1. Clair alone: POST index_report + GET vulnerability_report per manifest, C at a time (the
 *    manifests are read before the clock starts);
 * 2. the service (`node dist/server.js`, a real process on the bench's database): from
 *    `POST /api/repository` until every image is scored, with SCAN_CONCURRENCY = C and the
 *    per-registry cap at C;
 * 3. `clairctl report`, one process per image, C at a time.
 *
 * Each way gets its own registry and its own N images (same packages, a different marker package per
 * set), so no way finds another's layers already indexed. Prints the wall times and the ratios, and
 * the service's per-image scan time (median, p90) from its own log.
 * BENCH_SCAN_IMAGES (60), BENCH_SCAN_CONCURRENCY (2).
 */
export async function scanBench(dbUri: string): Promise<void> {
  const n = Number(process.env.BENCH_SCAN_IMAGES || 60);
  const c = Number(process.env.BENCH_SCAN_CONCURRENCY || 2);
  const dir = mkdtempSync(path.join(tmpdir(), 'vulnscan-bench-scan-'));
  const stops: Array<() => Promise<unknown>> = [];
  try {
    let t = Date.now();
    const clair = await startClair(dir);
    stops.push(() => clair.stop());
    report('clair started (fixture imported)', `${Date.now() - t} ms`);
    const regs: Record<'alone' | 'service' | 'clairctl', RegistryProcess> = {} as never;
    t = Date.now();
    for (const set of ['alone', 'service', 'clairctl'] as const) {
      regs[set] = await startRegistry(mkdtempSync(path.join(dir, `${set}-`)));
      stops.push(() => regs[set].stop());
      await pushImages(regs[set].url, n, [...DEBIAN_PACKAGES, { name: `bench-set-${set}`, version: '1.0' }]);
    }
    report(`push 3 × ${n} images`, `${Date.now() - t} ms`);

    // 1. Clair alone.
    const manifests = await Promise.all(
      Array.from({ length: n }, async (_, i) => {
        const res = await fetch(`${regs.alone.url}/v2/proof/app-${i}/manifests/v1`, {
          headers: { accept: [MT.ociManifest, MT.dockerManifest].join(', ') },
        });
        const digest = res.headers.get('docker-content-digest')!;
        const m = (await res.json()) as { layers: Array<{ digest: string }> };
        return {
          hash: digest,
          layers: m.layers.map((l) => ({
            hash: l.digest,
            uri: `${regs.alone.url}/v2/proof/app-${i}/blobs/${l.digest}`,
            headers: {},
          })),
        };
      }),
    );
    t = Date.now();
    await eachLimit(manifests, c, async (m) => {
      const idx = await fetch(`${clair.url}/indexer/api/v1/index_report`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(m),
      });
      if (!idx.ok) throw new Error(`Clair index of ${m.hash}: ${idx.status} ${await idx.text()}`);
      await idx.arrayBuffer();
      const vr = await fetch(`${clair.url}/matcher/api/v1/vulnerability_report/${m.hash}`);
      if (!vr.ok) throw new Error(`Clair report of ${m.hash}: ${vr.status}`);
      await vr.arrayBuffer();
    });
    const alone = Date.now() - t;
    report(`Clair alone: ${n} images, ${c} at a time`, `${alone} ms`);

    // 2. The service, as a real process.
    const uri = new URL(dbUri);
    uri.pathname = `/bench_scan_${Date.now()}`;
    const svc = await startService(dir, {
      MONGODB_URI: uri.toString(),
      CLAIR_URL: clair.url,
      LOG_LEVEL: 'info',
      SCAN_CONCURRENCY: String(c),
      SCAN_REGISTRY_CONCURRENCY: String(c),
      SCHEDULER: 'false',
      SCAN_REFRESH_INTERVAL_MS: '0',
    });
    stops.push(() => svc.stop());
    const client = await MongoClient.connect(uri.toString());
    stops.push(() => client.close());
    const images = client.db().collection('images');
    t = Date.now();
    const res = await fetch(`${svc.url}/api/repository`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ repository: regs.service.host, port: regs.service.port, name: 'bench' }),
    });
    if (!res.ok) throw new Error(`creating the registry failed: ${res.status} ${await res.text()}`);
    const deadline = Date.now() + Number(process.env.BENCH_DEADLINE_MS || 300_000);
    let discovered = 0;
    for (;;) {
      if (!discovered && (await images.countDocuments({})) >= n) discovered = Date.now() - t;
      const settled = await images.countDocuments({ scanStatus: { $in: ['done', 'failed'] } });
      if (settled >= n) break;
      if (Date.now() > deadline) throw new Error(`the service settled ${settled} of ${n} images before the deadline`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const service = Date.now() - t;
    const failed = await images.countDocuments({ scanStatus: 'failed' });
    report(
      `service: registry added → ${n} images scored, ${c} at a time`,
      `${service} ms (all ${n} discovered after ${discovered} ms; ${failed} failed)`,
    );
    const { total: scans, stages } = scanTimes(svc.proc.logPath);
    if (scans.length) {
      report(
        `  per image in the service's log (${scans.length} scans)`,
        `median ${percentile(scans, 50)} ms, p90 ${percentile(scans, 90)} ms`,
      );
      const mean = (xs: number[]) => Math.round(xs.reduce((a, b) => a + b, 0) / xs.length);
      report(
        '  stage means per image (ms)',
        Object.entries(stages)
          .map(([stage, xs]) => `${stage} ${mean(xs)}`)
          .join(', '),
      );
    }

    // 3. clairctl, one process per image.
    const { clairctl } = ensureClairBinaries(() => undefined);
    t = Date.now();
    await eachLimit(
      Array.from({ length: n }, (_, i) => i),
      c,
      (i) =>
        run(clairctl, [
          'report',
          '--host',
          clair.url,
          '--out',
          'json',
          `${regs.clairctl.host}:${regs.clairctl.port}/proof/app-${i}:v1`,
        ]),
    );
    const ctl = Date.now() - t;
    report(`clairctl report: ${n} images, ${c} processes at a time`, `${ctl} ms`);
    report(
      'ratios',
      `service / Clair alone ${(service / alone).toFixed(2)}×, service / clairctl ${(service / ctl).toFixed(2)}× (target ≤ 1.3× and < 1×)`,
    );
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
  }
}

function run(cmd: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, HTTP_PROXY: '', HTTPS_PROXY: '' },
    });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`${cmd} ${args.join(' ')}: ${code} ${err}`)),
    );
  });
}

/**
 * Milliseconds of each 'image scanned' line in the service's JSON log (sorted), and its per-stage
 * times (claim, prepare, clair, store, derive, history, done, alerts), from the scan worker.
 */
function scanTimes(logPath: string | undefined): { total: number[]; stages: Record<string, number[]> } {
  const out = { total: [] as number[], stages: {} as Record<string, number[]> };
  if (!logPath) return out;
  let text: string;
  try {
    text = readFileSync(logPath, 'utf8');
  } catch {
    return out;
  }
  for (const line of text.split('\n')) {
    if (!line.includes('"image scanned"')) continue;
    try {
      const rec = JSON.parse(line) as { ms?: number; stages?: Record<string, number> };
      if (typeof rec.ms === 'number') out.total.push(rec.ms);
      for (const [stage, ms] of Object.entries(rec.stages ?? {})) (out.stages[stage] ??= []).push(ms);
    } catch {
      // not JSON
    }
  }
  out.total.sort((a, b) => a - b);
  return out;
}
