import { benchDb, report } from './lib';
import { scoreBench } from './score.bench';
import { vulnerabilitiesBench } from './vulnerabilities.bench';

// npm run bench [-- suite...]; BENCH_IMAGES sets the image count (default 100000).
// Suite "vulnerabilities": BENCH_CVE_IMAGES (100000), BENCH_FINDINGS (1000000), BENCH_CVES (20000), BENCH_RUNS (200).
async function main(): Promise<void> {
  const images = Number(process.env.BENCH_IMAGES || 100_000);
  const suites = process.argv.slice(2);
  const want = (name: string) => suites.length === 0 || suites.includes(name);
  const db = await benchDb(`bench_${Date.now()}`);
  report('database', db.server);
  try {
    if (want('score')) await scoreBench(images);
    if (want('vulnerabilities')) await vulnerabilitiesBench();
  } finally {
    const mongoose = (await import('mongoose')).default;
    await mongoose.connection.dropDatabase().catch(() => undefined);
    await db.close();
  }
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack}\n`);
  process.exit(1);
});
