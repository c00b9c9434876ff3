import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';

/**
 * Builds (or reuses) the Clair v4 `clair` and `clairctl` binaries pinned by tools/clair/go.mod.
 * Independent of src/ so that CI and the e2e jest setup can call it before anything else.
 * Binaries are cached under ~/.cache/vulnscan/clair/<hash of go.mod + go.sum>/.
 */

const MODULE = path.resolve(__dirname, '..', 'tools', 'clair');
const PACKAGES = { clair: 'github.com/quay/clair/v4/cmd/clair', clairctl: 'github.com/quay/clair/v4/cmd/clairctl' };

export interface ClairBinaries {
  clair: string;
  clairctl: string;
}

/** Where the binaries for the current tools/clair pins live (they may not exist yet). */
export function clairBinaryPaths(): ClairBinaries {
  const hash = createHash('sha256');
  for (const f of ['go.mod', 'go.sum']) hash.update(readFileSync(path.join(MODULE, f)));
  const cache = process.env.XDG_CACHE_HOME || path.join(homedir(), '.cache');
  const dir = path.join(cache, 'vulnscan', 'clair', hash.digest('hex').slice(0, 12));
  return { clair: path.join(dir, 'clair'), clairctl: path.join(dir, 'clairctl') };
}

/**
 * Returns the cached binaries, building the missing ones with Go first (about 50 s per pair with
 * Go's module and build caches warm, several minutes cold). Throws when Go is missing or the build fails.
 */
export function ensureClairBinaries(onBuild: (what: string) => void = () => undefined): ClairBinaries {
  const bins = clairBinaryPaths();
  for (const [name, bin] of Object.entries(bins) as Array<[keyof ClairBinaries, string]>) {
    if (existsSync(bin)) continue;
    const go = spawnSync('go', ['version'], { encoding: 'utf8' });
    if (go.status !== 0) throw new Error(`${name} is not built and Go (>= 1.24.9) is not installed`);
    onBuild(`building ${name} from the Go module proxy into ${bin} (first run only)`);
    mkdirSync(path.dirname(bin), { recursive: true });
    const tmp = `${bin}.tmp${process.pid}`;
    const started = Date.now();
    // -checklinkname=0: ugorji/go/codec uses go:linkname into the runtime, which Go >= 1.23 refuses by default.
    const built = spawnSync('go', ['build', '-trimpath', '-ldflags=-checklinkname=0', '-o', tmp, PACKAGES[name]], {
      cwd: MODULE,
      env: { ...process.env, CGO_ENABLED: '0', GOFLAGS: '-mod=mod' },
      encoding: 'utf8',
      maxBuffer: 16 * 1024 * 1024,
    });
    if (built.status !== 0)
      throw new Error(`go build ${name} failed: ${(built.stderr || '').trim().split('\n').slice(-5).join(' | ')}`);
    renameSync(tmp, bin);
    onBuild(`built ${name} in ${Math.round((Date.now() - started) / 1000)} s`);
  }
  return bins;
}

if (require.main === module) {
  // CLI: prints the clair binary's directory (both binaries are in it).
  const bins = ensureClairBinaries((m) => process.stderr.write(`[ensure-clair] ${m}\n`));
  process.stdout.write(`${path.dirname(bins.clair)}\n`);
}
