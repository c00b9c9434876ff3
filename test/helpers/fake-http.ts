import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';

export interface RecordedRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface FakeReply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
  /** Wait this long before answering (timeouts). */
  delayMs?: number;
}

export interface FakeHttp {
  url: string;
  requests: RecordedRequest[];
  /** Replaces the handler; it gets each request and returns the reply. */
  handle(fn: (req: RecordedRequest, n: number) => FakeReply): void;
  close(): Promise<void>;
}

/**
 * A tiny HTTP server on a free loopback port that records every request and answers with what the
 * test's handler returns (objects as JSON). For protocol edges a real server cannot be made to produce.
 */
export async function startFakeHttp(): Promise<FakeHttp> {
  let handler: (req: RecordedRequest, n: number) => FakeReply = () => ({ status: 500, body: 'no handler' });
  const requests: RecordedRequest[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const rec = { method: req.method!, url: req.url!, headers: req.headers, body: Buffer.concat(chunks).toString() };
      requests.push(rec);
      const reply = handler(rec, requests.length);
      const send = () => {
        if (res.destroyed) return;
        const body =
          reply.body === undefined ? '' : typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body);
        res.writeHead(reply.status, { 'content-type': 'application/json', ...reply.headers });
        res.end(body);
      };
      if (!reply.delayMs) return send();
      const timer = setTimeout(() => {
        timers.delete(timer);
        send();
      }, reply.delayMs);
      timers.add(timer);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    handle(fn) {
      handler = fn;
    },
    close: () =>
      new Promise<void>((r) => {
        for (const t of timers) clearTimeout(t);
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
