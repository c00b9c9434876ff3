import { createHash } from 'node:crypto';
import { ScannerError } from '../../errors/app-error';
import type { Ctx } from '../../http/context';
import { ClairHttp, retryDelayMs, sleep, type ClairClientOptions, type ClairReply } from './clair-http';
import { mapV2Layer } from './clair.mapping';
import { V2Error, V2LayerEnvelope } from './clair.schemas';
import type { ClairClient, ScanInput } from './clair.types';

/** Clair v2's `{"Error":{"Message"}}` text, or the raw body's first line. */
function clairMessage(reply: ClairReply): string {
  try {
    const e = V2Error.safeParse(JSON.parse(reply.body));
    if (e.success && e.data.Error?.Message) return e.data.Error.Message;
  } catch {
    // not JSON
  }
  return reply.body.trim().split('\n')[0]?.slice(0, 300) || 'no detail given';
}

/**
 * Clair v2 layer name: unique per image and position. The blob digest alone is not (identical
 * empty layers appear in unrelated images with different parents), so it is hashed with the manifest digest.
 */
export function v2LayerName(manifestDigest: string, layerDigest: string): string {
  return createHash('sha256').update(`${manifestDigest}:${layerDigest}`).digest('hex');
}

/**
 * Legacy Clair v2 client: `POST /v1/layers` per layer, base first, chained by ParentName, then
 * `GET /v1/layers/{top}?features&vulnerabilities`. Throws ScannerError (5001; 504 on timeout).
 */
export function createClairV2Client(opts: ClairClientOptions): ClairClient {
  const http = new ClairHttp({ ...opts, version: 'v2' });

  async function postLayer(body: object, what: string, ctx: Ctx): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const reply = await http.call(ctx, {
        method: 'POST',
        path: '/v1/layers',
        what,
        body,
        timeoutMs: opts.indexTimeoutMs,
      });
      if (reply.status === 201) return;
      // 422: the layer cannot be extracted or is unsupported; Clair's docs say never to retry it.
      if (reply.status === 422 || reply.status === 400)
        throw new ScannerError(`Clair could not ${what}: ${clairMessage(reply)}`);
      if (reply.status >= 500 && attempt < http.retry.attempts) {
        const delay = retryDelayMs(attempt, http.retry, reply.headers['retry-after']);
        http.log(ctx)?.info({ attempt, delayMs: delay, status: reply.status }, 'clair v2 layer post failed; retrying');
        await sleep(delay);
        continue;
      }
      if (reply.status >= 500)
        throw new ScannerError(`Clair could not ${what} after ${attempt} tries: ${clairMessage(reply)}`);
      throw http.unexpected(reply, what, clairMessage(reply));
    }
  }

  return {
    version: 'v2',

    async ping(ctx) {
      try {
        const reply = await http.call(ctx, { method: 'GET', path: '/v1/namespaces', what: 'list namespaces' });
        return reply.status === 200;
      } catch {
        return false;
      }
    },

    async scan(input: ScanInput, ctx: Ctx) {
      if (!input.layers.length) throw new ScannerError(`image ${input.manifestDigest} has no layers to scan`);
      let parent = '';
      for (const [i, layer] of input.layers.entries()) {
        const name = v2LayerName(input.manifestDigest, layer.digest);
        const what = `analyse layer ${i + 1}/${input.layers.length} (${layer.digest}) of image ${input.manifestDigest}`;
        await postLayer(
          { Layer: { Name: name, Path: layer.uri, Headers: layer.headers, ParentName: parent, Format: 'Docker' } },
          what,
          ctx,
        );
        parent = name;
      }
      const what = `read the vulnerabilities of image ${input.manifestDigest}`;
      const reply = await http.call(ctx, {
        method: 'GET',
        path: `/v1/layers/${encodeURIComponent(parent)}?features&vulnerabilities`,
        what,
      });
      if (reply.status === 404)
        throw new ScannerError(
          `Clair lost the layers of image ${input.manifestDigest} (404 on the top layer); rescan it`,
        );
      if (reply.status !== 200) throw http.unexpected(reply, what, clairMessage(reply));
      return mapV2Layer(input.manifestDigest, http.parse(V2LayerEnvelope, reply, what));
    },
  };
}
