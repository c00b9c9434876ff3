import http from 'node:http';
import { createApp } from '../src/app';
import { loadConfig } from '../src/config';
import { createSecretBox } from '../src/crypto/secret-box';
import { ImageModel } from '../src/modules/images';
import { scannerFrom } from '../src/modules/scanner';
import { MT, buildLayer, pushImage, pushManifest } from '../test/helpers/oci-image';
import { startRegistry } from '../test/helpers/registry-process';
import { startRegistryProxy } from '../test/helpers/registry-proxy';
import { log, report } from './lib';

/**
 * Issue 16 item 6 (discovery part): BENCH_DISCOVERY_REPOS repositories (default 40) of
 * BENCH_DISCOVERY_TAGS tags each (default 10) in a real docker-registry behind a counting proxy;
 * a first discovery, then a second with nothing changed, each with its registry requests per tag
 * (HEAD and GET of manifests, GET of blobs) and its rate, and GET /api/score latency during the second.
 */
export async function pipelineBench(): Promise<void> {
  const repos = Number(process.env.BENCH_DISCOVERY_REPOS || 40);
  const perRepo = Number(process.env.BENCH_DISCOVERY_TAGS || 10);
  const registry = await startRegistry();
  const proxy = await startRegistryProxy(registry.port);
  const config = loadConfig({ LOG_LEVEL: process.env.BENCH_LOG_LEVEL || 'warn', SCAN_WORKER: 'false' });
  const deps = { config, logger: log, secretBox: createSecretBox(Buffer.alloc(32, 7)) };
  const app = createApp(deps);
  const server = http.createServer(app).listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const port = (server.address() as { port: number }).port;
  try {
    let s = Date.now();
    for (let r = 0; r < repos; r++) {
      const img = await pushImage(registry.url, `team-${r}/app`, ['t0'], [buildLayer({ 'etc/hostname': `r${r}\n` })]);
      for (let t = 1; t < perRepo; t++)
        await pushManifest(registry.url, `team-${r}/app`, `t${t}`, img.manifest, MT.ociManifest);
    }
    const tags = repos * perRepo;
    report(`push ${tags} tags in ${repos} repositories`, `${Date.now() - s} ms`);
    await ImageModel.deleteMany({});
    const created = await fetch(`http://127.0.0.1:${port}/api/repository`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ repository: '127.0.0.1', port: proxy.port }),
    }).then((res) => res.json() as Promise<{ data: { key: string } }>);
    const key = created.data.key;
    const scanner = scannerFrom(deps);
    await scanner.service.idle();
    await ImageModel.deleteMany({ repository: key });
    for (const run of ['first', 'unchanged second']) {
      const from = proxy.requests.length;
      const latencies: number[] = [];
      let reading = true;
      const reads = (async () => {
        while (reading) {
          const t0 = Date.now();
          await fetch(`http://127.0.0.1:${port}/api/score`).then((res) => res.arrayBuffer());
          latencies.push(Date.now() - t0);
          await new Promise((r) => setTimeout(r, 20));
        }
      })();
      s = Date.now();
      const deadline = Number(process.env.BENCH_DEADLINE_MS || 120_000);
      let timer: NodeJS.Timeout | undefined;
      const result = await Promise.race([
        scanner.service.discover({ repository: key }, { log }),
        new Promise<'stalled'>((r) => (timer = setTimeout(() => r('stalled'), deadline))),
      ]).finally(() => clearTimeout(timer));
      const ms = Date.now() - s;
      if (result === 'stalled') {
        const after = proxy.requests.slice(from);
        report(
          `discovery ${run}: ${tags} tags`,
          `STALLED: not finished after ${ms} ms (${after.length} registry requests sent)`,
        );
        report(`  GET /api/score during it (${latencies.length} answered)`, `max ${Math.max(...latencies)} ms`);
        process.exit(2);
      }
      reading = false;
      await reads;
      const after = proxy.requests.slice(from);
      const count = (m: string, part: string) => after.filter((q) => q.method === m && q.path.includes(part)).length;
      latencies.sort((a, b) => a - b);
      report(
        `discovery ${run}: ${tags} tags`,
        `${ms} ms, ${Math.round((tags / ms) * 1000)} tags/s, unchanged ${(result as { unchanged?: number } | null)?.unchanged ?? 0}`,
      );
      report(
        `  registry requests per tag`,
        `${(after.length / tags).toFixed(2)} (HEAD manifest ${count('HEAD', '/manifests/')}, GET manifest ${count('GET', '/manifests/')}, GET blob ${count('GET', '/blobs/')})`,
      );
      report(
        `  GET /api/score during it (${latencies.length} calls)`,
        `p50 ${latencies[Math.floor(latencies.length / 2)] ?? NaN} ms, max ${latencies[latencies.length - 1] ?? NaN} ms`,
      );
    }
  } finally {
    server.close();
    await proxy.close();
    await registry.stop();
  }
}
