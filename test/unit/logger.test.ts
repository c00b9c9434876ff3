import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import axios, { AxiosError } from 'axios';
import pino from 'pino';
import { RegistryError } from '../../src/errors/app-error';
import { TransportFailure } from '../../src/errors/safe-cause';
import { createLogger, stripTransport } from '../../src/logger';
import { LogCapture } from '../helpers/app';

describe('logger redaction', () => {
  it('When credentials or Authorization headers are logged at any usual depth, then they are redacted', () => {
    const logs = new LogCapture();
    const log = createLogger('info', logs);
    log.info({ passwd: 'p1', target: { credentials: { username: 'u', password: 'p2' } } }, 'a');
    log.info({ call: { headers: { Authorization: 'Bearer tok3' } }, registry: { passwdEnc: 'v1:enc4' } }, 'b');
    for (const secret of ['p1', 'p2', 'tok3', 'enc4']) expect(logs.text).not.toContain(secret);
    expect(logs.text).toContain('[redacted]');
  });
});

describe('logger: transport objects of errors', () => {
  const PASSWORD = 'unit-l0gger-pa55word';
  const BASIC = Buffer.from(`alice:${PASSWORD}`).toString('base64');
  const BEARER = 'bearer-t0ken-unit-test';
  let server: Server;
  let url: string;
  let unauthorized: AxiosError;
  let refused: AxiosError;

  beforeAll(async () => {
    server = createServer((_req, res) => res.writeHead(401, { 'www-authenticate': 'Basic realm="x"' }).end('no'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    // Real AxiosErrors: the reply's config, request and response hold the credentials sent.
    unauthorized = await axios
      .get(`${url}/v2/`, { auth: { username: 'alice', password: PASSWORD }, headers: { 'X-Token': BEARER } })
      .then(
        () => {
          throw new Error('expected a 401');
        },
        (e: AxiosError) => e,
      );
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const closedPort = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    refused = await axios
      .get(`http://127.0.0.1:${closedPort}/`, { headers: { Authorization: `Bearer ${BEARER}` } })
      .then(
        () => {
          throw new Error('expected a refusal');
        },
        (e: AxiosError) => e,
      );
  });
  afterAll(async () => {
    await new Promise<void>((r) => server.close(() => r()));
  });

  function expectClean(text: string): void {
    expect(text).not.toContain(PASSWORD);
    expect(text).not.toContain(BASIC);
    expect(text).not.toContain(BEARER);
  }

  it('When a real AxiosError is logged raw (without the sanitizer), then it does carry the secrets (the test can fail)', () => {
    // The premise of the other tests: pino's own error serializer keeps config and request.
    const logs = new LogCapture();
    const raw = pino({}, logs);
    raw.error({ err: unauthorized }, 'raw');
    expect(logs.text).toContain(BASIC);
  });

  it('When AxiosErrors are logged at any depth, then no config, request, response or headers reach the log', () => {
    const logs = new LogCapture();
    const log = createLogger('trace', logs);
    const aggregate = new AggregateError([unauthorized, refused], 'all failed');
    const chained = new Error('outer', { cause: new Error('middle', { cause: unauthorized }) });
    log.error({ err: unauthorized }, 'top-level err');
    log.error(refused, 'error as the first argument');
    log.error({ err: chained }, 'cause chain');
    log.error({ err: aggregate }, 'aggregate');
    log.warn({ detail: { attempts: [{ failure: unauthorized }], nested: { deeper: { e: refused } } } }, 'nested');
    log.warn({ error: unauthorized.toJSON() }, 'axios toJSON');
    const child = log.child({ component: 'x' });
    child.error({ err: new Error('wrapped', { cause: aggregate }) }, 'child logger');
    expect(logs.lines).toHaveLength(7);
    expectClean(logs.text);
    for (const r of logs.records()) {
      const s = JSON.stringify(r);
      expect(s).not.toMatch(/"(config|request|response)":/);
    }
    // What is worth keeping stays: the messages and codes.
    expect(logs.text).toContain('Request failed with status code 401');
    expect(logs.text).toContain('ECONNREFUSED');
  });

  it('When an error is stripped, then it keeps its prototype and the input is not changed', () => {
    const e = new RegistryError('registry x: refused');
    (e as unknown as { config: unknown }).config = { headers: { Authorization: 'x' } };
    const s = stripTransport({ err: e }) as { err: RegistryError };
    expect(s.err).toBeInstanceOf(RegistryError);
    expect(s.err.message).toBe('registry x: refused');
    expect(s.err).not.toHaveProperty('config');
    expect(e).toHaveProperty('config');
    const plain = { a: 1, b: [1, 2], c: { d: 'x' } };
    expect(stripTransport(plain)).toBe(plain);
  });

  it('When an AppError is built on an AxiosError, then its cause is a TransportFailure with message, code and reason only', () => {
    const e = new RegistryError('registry x: connection refused', { cause: refused });
    expect(e.cause).toBeInstanceOf(TransportFailure);
    expect(e.cause).not.toHaveProperty('config');
    expect(e.cause).not.toHaveProperty('request');
    expect((e.cause as TransportFailure).code).toBe('ECONNREFUSED');
    expect(e.reason).toBe('refused');
    const u = new RegistryError('registry x: 401', { cause: unauthorized });
    expect(u.cause).not.toHaveProperty('response');
    expectClean(JSON.stringify(u, Object.getOwnPropertyNames(u)));
  });
});
