import path from 'node:path';
import { startRegistry as startRegistryConfig } from '../../test/helpers/registry-process';
import { debianLayer, pushImage } from '../../test/helpers/oci-image';
import { DEBIAN_PACKAGES } from '../../test/fixtures/clair/debian-packages';
import { spawnProc, waitFor, type Proc } from './proc';

export interface RegistryProcess {
  host: string;
  port: number;
  url: string;
  dir: string;
  proc: Proc;
  /** SIGKILLs docker-registry. */
  kill(): Promise<void>;
  /** Starts it again on the same port and storage. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * A real Debian `docker-registry` that can be killed and restarted on the same port and storage.
 * test/helpers/registry-process.ts writes the config and proves it starts; this then serves that
 * same config from a child process the proof controls.
 */
export async function startRegistry(workDir: string): Promise<RegistryProcess> {
  const first = await startRegistryConfig();
  await first.stop();
  const proc = spawnProc('docker-registry', 'docker-registry', ['serve', path.join(first.dir, 'config.yml')], {
    logPath: path.join(workDir, 'registry.log'),
  });
  const up = () =>
    waitFor(
      'docker-registry to answer /v2/',
      async () => {
        if (!proc.alive) throw new Error(`docker-registry exited: ${proc.tail(10)}`);
        return (await fetch(`${first.url}/v2/`)).status === 200;
      },
      15_000,
      50,
    );
  await up();
  return {
    host: first.host,
    port: first.port,
    url: first.url,
    dir: first.dir,
    proc,
    kill: () => proc.kill('SIGKILL'),
    async restart() {
      proc.restart();
      await up();
    },
    stop: () => proc.kill('SIGTERM'),
  };
}

/**
 * Pushes `count` distinct single-layer Debian images `proof/app-<i>:v1` with the packages the Clair fixture
 * makes vulnerable (plus one marker package, so each digest differs) and returns their digests.
 */
export async function pushImages(url: string, count: number, packages = DEBIAN_PACKAGES): Promise<string[]> {
  const digests: string[] = [];
  for (let i = 0; i < count; i++) {
    const layer = debianLayer([...packages, { name: `proof-marker-${i}`, version: `1.0.${i}` }]);
    const pushed = await pushImage(url, `proof/app-${i}`, ['v1'], [layer]);
    digests.push(pushed.digest);
  }
  return digests;
}
