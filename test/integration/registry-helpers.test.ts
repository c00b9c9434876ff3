import { debianLayer, pushImage, pushIndex } from '../helpers/oci-image';
import { startRegistry, type RegistryProcess } from '../helpers/registry-process';

describe('test helpers: real registry and image push', () => {
  let reg: RegistryProcess;
  beforeAll(async () => {
    reg = await startRegistry();
  });
  afterAll(async () => {
    await reg.stop();
  });

  it('When an image and an index are pushed, then the registry lists and serves them', async () => {
    const layer = debianLayer([{ name: 'zlib1g', version: '1:1.2.13.dfsg-1' }]);
    const amd = await pushImage(reg.url, 'demo/app', ['1.0'], [layer]);
    const arm = await pushImage(reg.url, 'demo/app', [], [layer], { platform: { os: 'linux', architecture: 'arm64' } });
    const size = (d: typeof amd) => Buffer.byteLength(JSON.stringify(d.manifest));
    const idx = await pushIndex(reg.url, 'demo/app', 'multi', [
      { digest: amd.digest, size: size(amd), platform: { os: 'linux', architecture: 'amd64' } },
      { digest: arm.digest, size: size(arm), platform: { os: 'linux', architecture: 'arm64' } },
    ]);
    const catalog = (await (await fetch(`${reg.url}/v2/_catalog`)).json()) as { repositories: string[] };
    expect(catalog.repositories).toEqual(['demo/app']);
    const tags = (await (await fetch(`${reg.url}/v2/demo/app/tags/list`)).json()) as { tags: string[] };
    expect(tags.tags.sort()).toEqual(['1.0', 'multi']);
    const head = await fetch(`${reg.url}/v2/demo/app/manifests/multi`, {
      method: 'HEAD',
      headers: { accept: 'application/vnd.oci.image.index.v1+json' },
    });
    expect(head.headers.get('docker-content-digest')).toBe(idx);
    const blob = await fetch(`${reg.url}/v2/demo/app/blobs/${layer.digest}`);
    expect(blob.status).toBe(200);
  });
});
