import type { Image } from '../api';

export function imageHref(i: Pick<Image, 'repository' | 'image' | 'tag'> & { platform?: string }): string {
  const q = new URLSearchParams({ repository: i.repository, image: i.image, tag: i.tag });
  if (i.platform) q.set('platform', i.platform);
  return `/image?${q}`;
}
