import { spawn, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { FIGURE_PREFIX, type Figure } from './lib/figures';

/**
 * `npm run proof [name ...]`: builds the service once, then runs every proof/*.proof.ts (or the ones
 * named) as its own process, in name order, each bounded by its `@proof-timeout <seconds>` header
 * (default PROOF_TIMEOUT_S, 600). Prints each proof's figures and a summary; exits 1 when a proof
 * exited non-zero, timed out, or reported a must-be-0 figure that is not 0.
 */
const ROOT = path.resolve(__dirname, '..');
const DIR = __dirname;
const DEFAULT_TIMEOUT_S = Number(process.env.PROOF_TIMEOUT_S || 600);

interface Outcome {
  name: string;
  ok: boolean;
  seconds: number;
  reason: string;
  figures: Figure[];
}

function out(line: string): void {
  process.stdout.write(`${line}\n`);
}

function selectProofs(args: string[]): string[] {
  const all = readdirSync(DIR)
    .filter((f) => f.endsWith('.proof.ts'))
    .sort();
  if (!args.length) return all;
  return args.map((a) => {
    const base = path.basename(a).replace(/(\.proof)?\.ts$/, '');
    const file = `${base}.proof.ts`;
    if (!all.includes(file)) {
      out(`no proof named ${a} (have: ${all.join(', ')})`);
      process.exit(2);
    }
    return file;
  });
}

function timeoutOf(file: string): number {
  const m = /@proof-timeout\s+(\d+)/.exec(readFileSync(path.join(DIR, file), 'utf8'));
  return m ? Number(m[1]) : DEFAULT_TIMEOUT_S;
}

function runOne(file: string): Promise<Outcome> {
  const name = file.replace(/\.proof\.ts$/, '');
  const limitS = timeoutOf(file);
  const started = Date.now();
  const figures: Figure[] = [];
  out(`\n=== proof ${name} (limit ${limitS} s) ===`);
  // Its own process group, so a timeout takes down the proof and everything it started.
  const child = spawn(path.join(ROOT, 'node_modules', '.bin', 'tsx'), [path.join(DIR, file)], {
    cwd: ROOT,
    env: { ...process.env, PROOF_BUILT: '1' },
    stdio: ['ignore', 'pipe', 'inherit'],
    detached: true,
  });
  createInterface({ input: child.stdout! }).on('line', (line) => {
    if (line.startsWith(FIGURE_PREFIX)) {
      try {
        const f = JSON.parse(line.slice(FIGURE_PREFIX.length)) as Figure;
        figures.push(f);
        const bad = f.mustBeZero && f.value !== 0;
        out(
          `  ${bad ? 'FAIL' : '    '} ${f.name}: ${f.value}${f.unit ? ` ${f.unit}` : ''}${f.mustBeZero ? ' (must be 0)' : ''}`,
        );
        return;
      } catch {
        // not a figure after all: print it as it is
      }
    }
    out(`  | ${line}`);
  });
  return new Promise((resolve) => {
    let timedOut = false;
    const killGroup = (sig: NodeJS.Signals) => {
      try {
        process.kill(-child.pid!, sig);
      } catch {
        // already gone
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      out(`  proof ${name} exceeded ${limitS} s: stopping it`);
      // The proof's own SIGTERM handler stops what it started; the group kill backs it up.
      killGroup('SIGTERM');
      setTimeout(() => killGroup('SIGKILL'), 20_000).unref();
    }, limitS * 1000);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      const seconds = Math.round((Date.now() - started) / 100) / 10;
      const nonZero = figures.filter((f) => f.mustBeZero && f.value !== 0).map((f) => f.name);
      let reason = '';
      if (timedOut) reason = `timed out after ${limitS} s`;
      else if (code !== 0) reason = `exited with ${signal ?? code}`;
      else if (nonZero.length) reason = `not 0: ${nonZero.join(', ')}`;
      else if (!figures.length) reason = 'reported no figures';
      resolve({ name, ok: reason === '', seconds, reason, figures });
    });
  });
}

async function main(): Promise<void> {
  const files = selectProofs(process.argv.slice(2));
  out(`building the service (npm run build)`);
  const build = spawnSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: 'inherit' });
  if (build.status !== 0) {
    out('npm run build failed');
    process.exit(1);
  }
  const outcomes: Outcome[] = [];
  for (const f of files) outcomes.push(await runOne(f));
  out('\n=== proof summary ===');
  for (const o of outcomes) out(`  ${o.ok ? 'PASS' : 'FAIL'} ${o.name} (${o.seconds} s)${o.ok ? '' : `: ${o.reason}`}`);
  process.exit(outcomes.every((o) => o.ok) ? 0 : 1);
}

void main();
