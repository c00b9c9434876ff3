import http from 'node:http';

export interface ProxiedRequest {
  method: string;
  path: string;
}

export interface RegistryProxy {
  port: number;
  /** Every request forwarded (or answered by `fail`), in arrival order. */
  requests: ProxiedRequest[];
  /** Returns a status to answer a request with instead of forwarding it (null: forward). */
  fail: (req: ProxiedRequest) => number | null;
  close(): Promise<void>;
}

/**
 * A counting HTTP proxy in front of a registry on 127.0.0.1:`targetPort`: it records the method and
 * path of every request and can answer chosen ones with an error status, as a flaky registry would.
 */
export async function startRegistryProxy(targetPort: number): Promise<RegistryProxy> {
  const proxy: RegistryProxy = {
    port: 0,
    requests: [],
    fail: () => null,
    close: () => Promise.resolve(),
  };
  const server = http.createServer((req, res) => {
    const seen = { method: req.method ?? 'GET', path: req.url ?? '/' };
    proxy.requests.push(seen);
    const status = proxy.fail(seen);
    if (status) {
      const body = JSON.stringify({ errors: [{ code: 'UNAVAILABLE', message: 'injected by the test proxy' }] });
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(req.method === 'HEAD' ? undefined : body);
      return;
    }
    const upstream = http.request(
      { host: '127.0.0.1', port: targetPort, method: req.method, path: req.url, headers: req.headers },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    upstream.on('error', () => {
      res.writeHead(502);
      res.end();
    });
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  proxy.port = (server.address() as { port: number }).port;
  proxy.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return proxy;
}
