import { ImageModel } from '../../src/modules/images';

let seq = 0;

/** An image document with realistic defaults; pass overrides for what a test cares about. */
export function buildImage(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  seq++;
  return {
    repository: '127.0.0.1:5000',
    image: `app-${seq}`,
    tag: 'latest',
    platform: 'linux/amd64',
    digest: `sha256:${seq.toString(16).padStart(64, '0')}`,
    namespace: 'debian:12',
    critical: 0,
    high: 0,
    medium: 0,
    low: 0,
    negligible: 0,
    unknown: 0,
    packages: 10,
    score: 0,
    scanStatus: 'done',
    created_at: new Date(),
    updated_at: new Date(),
    ...overrides,
  };
}

export async function insertImages(docs: Array<Record<string, unknown>>): Promise<void> {
  await ImageModel.insertMany(docs, { ordered: false });
}
