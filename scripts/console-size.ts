import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';

/** Gzipped size of the built console's JavaScript (every chunk, and the entry loaded first). */
export function consoleJsSize(dir = path.resolve(__dirname, '..', 'dist', 'console')): {
  files: Array<{ file: string; bytes: number; gzip: number }>;
  totalGzip: number;
  entryGzip: number;
} {
  const assets = path.join(dir, 'assets');
  const html = readFileSync(path.join(dir, 'index.html'), 'utf8');
  const files = readdirSync(assets)
    .filter((f) => f.endsWith('.js'))
    .map((file) => {
      const buf = readFileSync(path.join(assets, file));
      return { file, bytes: buf.length, gzip: gzipSync(buf, { level: 9 }).length };
    })
    .sort((a, b) => b.gzip - a.gzip);
  const entry = files.filter((f) => html.includes(`/assets/${f.file}`));
  return {
    files,
    totalGzip: files.reduce((s, f) => s + f.gzip, 0),
    entryGzip: entry.reduce((s, f) => s + f.gzip, 0),
  };
}

if (require.main === module) {
  const { files, totalGzip, entryGzip } = consoleJsSize();
  const kb = (n: number) => `${(n / 1024).toFixed(1)} KB`;
  for (const f of files)
    process.stdout.write(`${f.file.padEnd(36)} ${kb(f.bytes).padStart(10)} ${kb(f.gzip).padStart(10)} gzip\n`);
  process.stdout.write(
    `first screen (entry): ${kb(entryGzip)} gzip; every chunk: ${kb(totalGzip)} gzip (budget 300 KB)\n`,
  );
}
