import { embeddedBench } from './embedded.bench';
import { benchDb, report } from './lib';
import { pipelineBench } from './pipeline.bench';
import { scanBench } from './scan.bench';
import { scannerBench } from './scanner.bench';
import { scoreBench } from './score.bench';
import { vulnerabilitiesBench } from './vulnerabilities.bench';

// npm run bench [-- suite...] with suites score, scanner, vulnerabilities (default: all).
// BENCH_IMAGES: images (default 100000); BENCH_FINDINGS: findings of the scanner suite (default 5000000);
// BENCH_RUNS: timed requests per query (default 200); BENCH_WARMUP: untimed ones first (default 10);
// BENCH_QUERIES=0 skips the query timings (seed and storeReport only).
// Suite "pipeline" (only when named): discovery of BENCH_DISCOVERY_REPOS x BENCH_DISCOVERY_TAGS tags in a real
// registry, first and unchanged second run, registry requests per tag (issue 16).
// Suite "scan" (only when named; also part of "pipeline"): BENCH_SCAN_IMAGES (60) new images through Clair alone,
// the service and clairctl at BENCH_SCAN_CONCURRENCY (2), with the ratios (issue 16 item 6).
// Suite "embedded" (only when named): re-score and storeReport sizes the embedded FerretDB must take (issue 16).
// Suite "vulnerabilities": BENCH_CVE_IMAGES (100000), BENCH_FINDINGS (1000000), BENCH_CVES (20000), BENCH_RUNS (200).
async function main(): Promise<void> {
  const images = Number(process.env.BENCH_IMAGES || 100_000);
  const findings = Number(process.env.BENCH_FINDINGS || 5_000_000);
  const runs = Number(process.env.BENCH_RUNS || 200);
  const suites = process.argv.slice(2);
  const want = (name: string) => suites.length === 0 || suites.includes(name);
  const mongoose = (await import('mongoose')).default;
  const db = await benchDb(`bench_${Date.now()}`);
  report('database', `${db.server} ${db.uri.replace(/\/\/[^@/]*@/, '//***@')}`);
  try {
    if (want('score')) await scoreBench(images);
    if (want('scanner')) {
      // Each suite seeds its own images.
      await mongoose.connection.db!.collection('images').deleteMany({});
      await scannerBench(
        images,
        findings,
        runs,
        Number(process.env.BENCH_WARMUP || 10),
        process.env.BENCH_QUERIES !== '0',
      );
    }
    if (suites.includes('embedded')) await embeddedBench();
    if (suites.includes('pipeline')) await pipelineBench();
    if (suites.includes('pipeline') || suites.includes('scan')) await scanBench(db.uri);
    if (want('vulnerabilities')) {
      await mongoose.connection.db!.collection('images').deleteMany({});
      await vulnerabilitiesBench();
    }
  } finally {
    await mongoose.connection.dropDatabase().catch(() => undefined);
    await db.close();
  }
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack}\n`);
  process.exit(1);
});
