/**
 * Bad input: a seeded fuzzer driven by the OpenAPI document the service serves.
 *
 * The built service runs as a real process on a real FerretDB, with API_TOKENS set. The fuzzer reads
 * GET /api/openapi.json, builds a valid request per operation from the document's examples and
 * schemas, and sends at least FUZZ_REQUESTS (10,000) mutations of them: wrong types, `$`-operators,
 * `__proto__`/`constructor` keys, 100 KB strings, 5,000-deep nesting, 100,000-element arrays,
 * invalid JSON and UTF-8, odd content types and encodings, path traversal, bad percent-encoding,
 * NUL characters, hex integers, 20 KB URLs, raw bytes in the request line, and missing or wrong
 * tokens. Requests go one at a time, so that around every write the service refused the stored
 * collections can be hashed: a refused write must leave them as they were.
 *
 * Reproducible: the same FUZZ_SEED (default 14) sends the same requests in the same order.
 * @proof-timeout 1500
 */
import { createHash } from 'node:crypto';
import { Agent, request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { gzipSync } from 'node:zlib';
import { MongoClient } from 'mongodb';
import { ErrorCodes } from '../src/errors/codes';
import { startFerret } from './lib/ferretdb';
import { figure, note, runProof, workDir } from './lib/figures';
import { sleep } from './lib/proc';
import { startService } from './lib/service';

const SEED = Number(process.env.FUZZ_SEED || 14);
const TOTAL = Number(process.env.FUZZ_REQUESTS || 10_000);
const TOKEN = 'fuzz-token-0123456789abcdef0123456789abcdef';
const SECRET_KEY = 'a'.repeat(64);
const PASSWORD_MARK = 'fz-pw-';
const DB = 'vulnscan_fuzz';

/** mulberry32: a small seeded PRNG, so a run can be repeated exactly. */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (n: number) => Math.floor(next() * n),
    pick: <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)],
    chance: (p: number) => next() < p,
  };
}
type Rng = ReturnType<typeof prng>;

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
interface Schema {
  $ref?: string;
  type?: string | string[];
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  enum?: Json[];
  example?: Json;
  default?: Json;
  minimum?: number;
  maximum?: number;
  anyOf?: Schema[];
  oneOf?: Schema[];
  allOf?: Schema[];
  const?: Json;
}
interface Param {
  name: string;
  in: 'path' | 'query' | 'header';
  required?: boolean;
  schema?: Schema;
}
interface Operation {
  method: string;
  path: string;
  params: Param[];
  body?: Schema;
}

interface Doc {
  paths: Record<
    string,
    Record<string, { parameters?: Param[]; requestBody?: { content?: Record<string, { schema: Schema }> } }>
  >;
  components?: { schemas?: Record<string, Schema> };
}

function resolve(doc: Doc, s: Schema | undefined): Schema {
  let cur = s ?? {};
  for (let i = 0; cur.$ref && i < 10; i++) cur = doc.components?.schemas?.[cur.$ref.split('/').pop()!] ?? {};
  return cur;
}

/** A plausible value for `s`: its example, default, enum or a value of its type. */
function sample(doc: Doc, raw: Schema | undefined, rng: Rng, depth = 0): Json {
  const s = resolve(doc, raw);
  if (s.example !== undefined) return s.example;
  if (s.const !== undefined) return s.const;
  if (s.enum?.length) return rng.pick(s.enum);
  if (s.default !== undefined) return s.default;
  const alt = s.anyOf ?? s.oneOf;
  if (alt?.length) return sample(doc, alt[0], rng, depth + 1);
  const type = Array.isArray(s.type) ? s.type.find((t) => t !== 'null') : s.type;
  switch (type) {
    case 'integer':
    case 'number':
      return s.minimum ?? 1;
    case 'boolean':
      return false;
    case 'array':
      return depth > 4 ? [] : [sample(doc, s.items, rng, depth + 1)];
    case 'object': {
      const o: Record<string, Json> = {};
      for (const [k, v] of Object.entries(s.properties ?? {})) {
        if (s.required?.includes(k) || rng.chance(0.3)) o[k] = sample(doc, v, rng, depth + 1);
      }
      return o;
    }
    default:
      return 'x';
  }
}

const DEEP = '"\u0001DEEP\u0001"';
const nestedText = (levels: number) => '{"a":'.repeat(levels) + '1' + '}'.repeat(levels);

/** Values that replace one field of a valid body (JSON-encodable; DEEP is spliced in as text). */
function badValue(rng: Rng): Json {
  return rng.pick<() => Json>([
    () => 123,
    () => -1,
    () => 1e308,
    () => 0.5,
    () => true,
    () => null,
    () => 'str',
    () => '0x10',
    () => '',
    () => [],
    () => ({}),
    () => ({ $gt: '' }),
    () => ({ $ne: null }),
    () => ({ $where: 'sleep(1000)' }),
    () => ({ $regex: '.*' }),
    () => JSON.parse('{"__proto__":{"polluted":true}}') as Json,
    () => ({ constructor: { prototype: { polluted: true } } }),
    () => 'A'.repeat(100_000),
    () => new Array<Json>(100_000).fill(1),
    () => 'bad\u0000nul',
    () => '\ud800',
    () => '../../../../etc/passwd',
    () => '..%2F..%2Fetc%2Fpasswd',
    () => '$where',
    () => 'ünïcødé 🎯',
    () => '.*(a+)+$',
    () => DEEP.slice(1, -1),
  ])();
}

/** Path-parameter mutations (already percent-encoded where that is the point). */
const BAD_SEGMENTS = [
  '..%2F..%2Fetc%2Fpasswd',
  '%2e%2e%2f%2e%2e%2f',
  '..',
  '%FF',
  '%E0%A4%A',
  '%00',
  'a%00b',
  'A'.repeat(5000),
  '%24gt',
  '%7B%22%24gt%22%3A%22%22%7D',
  '__proto__',
  'constructor',
  '-1',
  '0x10',
  '000000000000000000000000',
  'ffffffffffffffffffffffff',
  'CVE-2020-0001',
  'GHSA-xxxx-xxxx-xxxx',
  '%20',
];

const QUERY_BAD = [
  '0x10',
  '1e3',
  '',
  '-1',
  '99999999999999999999',
  '%00',
  'a%00b',
  '%FF',
  'A'.repeat(3000),
  '%24gt',
  'true',
  'null',
  '..%2F..%2Fetc',
];

const CONTENT_TYPES = [
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=xyz',
  'application/json; charset=utf-16',
  'application/json; charset=latin1',
  'application/json; charset=nonsense',
  'application/xml',
  'application/vnd.api+json',
  '*/*',
  '',
];

interface Req {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
  raw?: Buffer;
  write: boolean;
  kind: string;
}

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

const agent = new Agent({ keepAlive: true, maxSockets: 8 });

function send(base: URL, r: Req): Promise<Reply> {
  if (r.raw) return sendRaw(base, r.raw);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: base.hostname,
        port: base.port,
        method: r.method,
        path: r.path,
        headers: { ...r.headers, ...(r.body ? { 'content-length': String(r.body.length) } : {}) },
        agent,
        timeout: 30_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
        );
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('no reply within 30 s')));
    req.on('error', reject);
    req.end(r.body);
  });
}

function sendRaw(base: URL, bytes: Buffer): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const socket = connect(Number(base.port), base.hostname);
    const chunks: Buffer[] = [];
    socket.setTimeout(10_000, () => socket.destroy(new Error('raw request: no reply')));
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', reject);
    socket.on('close', () => {
      const all = Buffer.concat(chunks);
      const split = all.indexOf('\r\n\r\n');
      const head = all.subarray(0, split < 0 ? all.length : split).toString('latin1');
      const headers: Record<string, string> = {};
      for (const line of head.split('\r\n').slice(1)) {
        const i = line.indexOf(':');
        if (i > 0) headers[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim();
      }
      resolve({
        status: Number(head.split(' ')[1]) || 0,
        headers,
        body: split < 0 ? Buffer.alloc(0) : all.subarray(split + 4),
      });
    });
    socket.write(bytes);
  });
}

function operations(doc: Doc): Operation[] {
  const ops: Operation[] = [];
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      const body = op.requestBody?.content?.['application/json']?.schema;
      ops.push({ method: method.toUpperCase(), path, params: op.parameters ?? [], body });
    }
  }
  return ops;
}

/** Builds request `n` (deterministic in the seed): a valid request of one operation, then one mutation. */
function build(doc: Doc, ops: Operation[], ids: Record<string, string[]>, rng: Rng): Req {
  const op = rng.pick(ops);
  const headers: Record<string, string> = { authorization: `Bearer ${TOKEN}`, accept: 'application/json' };
  if (op.path === '/api/webhooks/registry') headers.authorization = `Bearer ${TOKEN}-webhook`;
  const segs: Record<string, string> = {};
  const query: Array<[string, string]> = [];
  for (const p of op.params) {
    if (p.in === 'path') {
      const pool = ids[p.name] ?? [];
      segs[p.name] =
        pool.length && rng.chance(0.7) ? rng.pick(pool) : encodeURIComponent(String(sample(doc, p.schema, rng)));
    } else if (p.in === 'query' && (p.required || rng.chance(0.5))) {
      const pool = ids[`q:${p.name}`] ?? [];
      const v = pool.length && rng.chance(0.6) ? rng.pick(pool) : String(sample(doc, p.schema, rng));
      query.push([p.name, encodeURIComponent(v)]);
    }
  }
  let body: Json | undefined = op.body ? sample(doc, op.body, rng) : undefined;
  // A password sent must never come back (replies show "******"); other fields may be echoed in a 4xx.
  if (body && typeof body === 'object' && !Array.isArray(body) && 'passwd' in body) {
    body.passwd = `${PASSWORD_MARK}${rng.int(1e6)}`;
  }
  let bodyText: string | undefined;
  let bodyBytes: Buffer | undefined;
  let kind = 'valid';
  const write = op.method !== 'GET';

  const m = rng.int(100);
  if (m < 4) {
    kind = 'valid';
  } else if (m < 30 && body !== undefined && typeof body === 'object' && body !== null && !Array.isArray(body)) {
    // One field of a valid body replaced, added or given a bad key.
    kind = 'field';
    const o = body as Record<string, Json>;
    const keys = Object.keys(o);
    const r = rng.int(4);
    if (r === 0 || !keys.length)
      o[rng.pick(['$set', '$where', '__proto__', 'constructor', 'unknownField', 'a.b', '', ' '])] = badValue(rng);
    else {
      const k = rng.pick(keys);
      const inner = o[k];
      if (r === 1 && inner && typeof inner === 'object' && !Array.isArray(inner) && Object.keys(inner).length) {
        (inner as Record<string, Json>)[rng.pick(Object.keys(inner))] = badValue(rng);
      } else o[k] = badValue(rng);
    }
  } else if (m < 40) {
    kind = 'body-shape';
    body = rng.pick<Json>([[], null, 1, 'str', true, new Array<Json>(100_000).fill({}), { a: 'A'.repeat(100_000) }]);
  } else if (m < 47) {
    kind = 'deep';
    bodyText = nestedText(rng.pick([33, 500, 5000, 20_000]));
    if (body && typeof body === 'object' && !Array.isArray(body) && Object.keys(body).length && rng.chance(0.5)) {
      const o = body as Record<string, Json>;
      o[rng.pick(Object.keys(o))] = DEEP.slice(1, -1);
      bodyText = JSON.stringify(o).replace(DEEP, nestedText(5000));
    }
  } else if (m < 54) {
    kind = 'bad-json';
    bodyText = rng.pick([
      '{"a":',
      "{'a':1}",
      '',
      'nul',
      '{"a":1}}',
      '[1,2',
      '{"a":01}',
      '\ufeff{}',
      '{"a":NaN}',
      '{"a":"\\x41"}',
    ]);
  } else if (m < 59) {
    kind = 'bad-utf8';
    bodyBytes = Buffer.concat([
      Buffer.from('{"repository":"'),
      Buffer.from([0xff, 0xfe, 0xc3, 0x28, 0xed, 0xa0, 0x80]),
      Buffer.from('"}'),
    ]);
  } else if (m < 65) {
    kind = 'content-type';
    headers['content-type'] = rng.pick(CONTENT_TYPES);
    bodyText = rng.chance(0.5) ? 'a=1&b=2' : JSON.stringify(body ?? {});
  } else if (m < 71) {
    kind = 'encoding';
    const enc = rng.pick(['gzip', 'deflate', 'br', 'compress', 'gzip, gzip', 'identity', 'x-unknown']);
    headers['content-encoding'] = enc;
    const text = JSON.stringify(body ?? {});
    bodyBytes = enc === 'gzip' && rng.chance(0.3) ? gzipSync(text) : Buffer.from(text);
  } else if (m < 78 && (Object.keys(segs).length || query.length)) {
    kind = 'param';
    if (Object.keys(segs).length && rng.chance(0.6)) segs[rng.pick(Object.keys(segs))] = rng.pick(BAD_SEGMENTS);
    else if (query.length) {
      const q = rng.pick(query);
      const r = rng.int(4);
      if (r === 0) query.push([q[0], q[1]]);
      else if (r === 1) query.push([`${q[0]}[$ne]`, 'x']);
      else q[1] = rng.pick(QUERY_BAD);
      if (rng.chance(0.2)) query.push(['__proto__[polluted]', '1']);
    }
  } else if (m < 81) {
    kind = 'long-url';
    query.push(['pad', 'A'.repeat(rng.pick([9_000, 20_000, 70_000]))]);
  } else if (m < 84) {
    kind = 'raw';
  } else if (m < 91) {
    kind = 'auth';
    const r = rng.int(4);
    if (r === 0) delete headers.authorization;
    else if (r === 1) headers.authorization = 'Bearer wrong-token';
    else if (r === 2) headers.authorization = `Basic ${Buffer.from('admin:admin').toString('base64')}`;
    else headers.authorization = `Bearer ${TOKEN} extra`;
  } else if (m < 95) {
    kind = 'method';
    const other = rng.pick(['PATCH', 'PUT', 'DELETE', 'POST', 'GET']);
    return finish(other, other !== 'GET');
  } else {
    kind = 'header';
    headers[rng.pick(['x-request-id', 'content-length-x', 'accept', 'x-forwarded-for', 'cookie'])] = rng.pick([
      'A'.repeat(8000),
      '../../etc/passwd',
      '${jndi:ldap://x}',
      '\t',
    ]);
  }
  return finish(op.method, write);

  function finish(method: string, isWrite: boolean): Req {
    let path = op.path.replace(/\{(\w+)\}/g, (_m, name: string) => segs[name] ?? 'x');
    if (query.length) path += `?${query.map(([k, v]) => `${k}=${v}`).join('&')}`;
    if (kind === 'raw') {
      const raw = rng.pick([
        Buffer.concat([
          Buffer.from(`${method} ${path.slice(0, 20)}`),
          Buffer.from([0xff, 0xc3, 0x00]),
          Buffer.from(' HTTP/1.1\r\nHost: x\r\n\r\n'),
        ]),
        Buffer.from(
          `${method} ${path} HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
        ),
        Buffer.from(`${method} ${path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n`),
        Buffer.from('\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03', 'latin1'),
        Buffer.from(`${method} ${path} HTTP/9.9\r\n\r\n`),
        Buffer.from(`${method} ${path} HTTP/1.1\r\nBad Header\r\n\r\n`),
      ]);
      return { method, path, headers, raw, write: isWrite, kind };
    }
    let bytes = bodyBytes;
    if (!bytes && bodyText !== undefined) bytes = Buffer.from(bodyText);
    if (!bytes && body !== undefined) bytes = Buffer.from(JSON.stringify(body).replace(DEEP, nestedText(5000)));
    if (bytes && !('content-type' in headers)) headers['content-type'] = 'application/json';
    return { method, path, headers, body: bytes, write: isWrite, kind };
  }
}

interface Envelope {
  code?: unknown;
  data?: unknown;
  message?: unknown;
}

function parseEnvelope(text: string | null): Envelope | null {
  if (text === null) return null;
  try {
    const v = JSON.parse(text) as unknown;
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Envelope) : null;
  } catch {
    return null;
  }
}

const STACK = /\n\s+at\s|\bat\s+\S+\s+\(.*:\d+:\d+\)|\.(ts|js):\d+:\d+|node_modules|\/work\/|MongoServerError|E11000/;

/** Hash of every stored collection (documents in _id order). */
async function stateHash(client: MongoClient): Promise<string> {
  const db = client.db(DB);
  const h = createHash('sha256');
  const names = (await db.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name).sort();
  for (const name of names) {
    h.update(`#${name}`);
    for (const d of await db.collection(name).find({}).sort({ _id: 1 }).toArray()) h.update(JSON.stringify(d));
  }
  return h.digest('hex');
}

/**
 * Waits until the stored state has not changed for a full second (five equal hashes 250 ms apart):
 * background work after an accepted write (a new registry's first discovery, its failure recorded
 * after a timeout) can pause longer than one short interval between its writes. Gives up after 20 s.
 */
async function settledHash(client: MongoClient): Promise<string> {
  let prev = await stateHash(client);
  let same = 0;
  for (let i = 0; i < 80 && same < 4; i++) {
    await sleep(250);
    const cur = await stateHash(client);
    same = cur === prev ? same + 1 : 0;
    prev = cur;
  }
  return prev;
}

void runProof('fuzz', async (onExit) => {
  const dir = workDir('fuzz');
  note(`fuzz: seed ${SEED}, ${TOTAL} requests, work dir ${dir}`);
  const ferret = await startFerret(dir);
  onExit(() => ferret.stop());
  const uri = new URL(ferret.uri);
  uri.pathname = `/${DB}`;
  const service = await startService(dir, {
    MONGODB_URI: uri.toString(),
    API_TOKENS: TOKEN,
    WEBHOOK_SECRET: `${TOKEN}-webhook`,
    SECRET_KEY,
    LOG_LEVEL: 'warn',
    // Nothing that changes stored state by itself between two requests: no workers, sweeps or timers.
    CLAIR_URL: 'http://127.0.0.1:9',
    SCAN_WORKER: 'false',
    ALERT_WORKER: 'false',
    // Stored pushes are discovered (and retried with back-off) by this worker, seconds after the
    // request that stored them: state would change under a later, refused request.
    WEBHOOK_INBOX_WORKER: 'false',
    SCHEDULER: 'false',
    SUPPRESSION_SWEEP_MS: '0',
    CVE_SUMMARY_INTERVAL_MS: '0',
    SCAN_REFRESH_INTERVAL_MS: '0',
    REGISTRY_TEST_TIMEOUT_MS: '500',
    REGISTRY_TIMEOUT_MS: '500',
  });
  onExit(() => service.stop());
  const base = new URL(service.url);
  const client = await MongoClient.connect(uri.toString());
  onExit(() => client.close());

  const auth = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };
  const call = async (method: string, path: string, body?: unknown) => {
    const r = await send(base, {
      method,
      path,
      headers: auth,
      body: body ? Buffer.from(JSON.stringify(body)) : undefined,
      write: false,
      kind: 'seed',
    });
    return JSON.parse(r.body.toString()) as { code: number; data: Record<string, unknown> };
  };
  const doc = (await call('GET', '/api/openapi.json')) as unknown as Doc;
  const ops = operations(doc);
  note(`fuzz: ${ops.length} operations in the served document`);

  // Something for paths and queries to point at.
  const ids: Record<string, string[]> = { id: [], cveId: ['CVE-2020-0001'], 'q:repository': [] };
  for (let i = 0; i < 3; i++) {
    const r = await call('POST', '/api/repository', {
      repository: '127.0.0.1',
      port: 2000 + i,
      name: `seed${i}`,
      isAuth: true,
      username: 'u',
      passwd: `${PASSWORD_MARK}seed`,
    });
    if (r.code === 0) ids['q:repository'].push(`127.0.0.1:${2000 + i}`, `seed${i}`);
  }
  for (let i = 0; i < 3; i++) {
    const r = await call('POST', '/api/suppressions', {
      cveId: `CVE-2020-000${i + 1}`,
      scope: 'global',
      reason: 'seed',
      author: 'fuzz',
    });
    if (r.code === 0) ids.id.push(String(r.data._id));
  }
  await call('PUT', '/api/score', { low: 4 });
  note(`fuzz: seeded ${ids['q:repository'].length / 2} registries, ${ids.id.length} suppressions`);

  const rng = prng(SEED);
  const byKind: Record<string, number> = {};
  const byStatus: Record<string, number> = {};
  let fivexx = 0;
  let malformed = 0;
  let leaks = 0;
  let changed = 0;
  let refusedWrites = 0;
  const examples: string[] = [];
  const flag = (what: string, r: Req, rep: Reply) => {
    if (examples.length < 25)
      examples.push(
        `${what}: ${r.kind} ${r.method} ${r.path.slice(0, 120)} -> ${rep.status} ${rep.body.toString().slice(0, 200)}`,
      );
  };
  let hash = await settledHash(client);
  const t0 = Date.now();
  /** Checks one reply; returns true when it was a refusal (status 400+ or no reply). */
  const check = (r: Req, rep: Reply): boolean => {
    byStatus[rep.status] = (byStatus[rep.status] ?? 0) + 1;
    const text = rep.body.toString('utf8');
    const isApi = r.path.startsWith('/api/') || r.raw !== undefined;
    const json = /application\/json/.test(String(rep.headers['content-type'] ?? ''));
    const env = parseEnvelope(json ? text : null);
    // 5xx other than an honest upstream failure (Clair 5001 or a registry 5002: both unreachable here).
    const honestUpstream = (rep.status === 502 || rep.status === 504) && (env?.code === 5001 || env?.code === 5002);
    if (rep.status >= 500 && !honestUpstream) {
      fivexx++;
      flag('5xx', r, rep);
    }
    // Envelope: every /api reply and every error is {code, data, message} with a status matching the code.
    const needsEnvelope = rep.status >= 400 || rep.status === 0 || (isApi && !r.path.includes('/export'));
    if (needsEnvelope) {
      const keys = env && typeof env === 'object' ? Object.keys(env).sort().join(',') : '';
      const codeOk =
        env &&
        typeof env.code === 'number' &&
        typeof env.message === 'string' &&
        (rep.status < 400
          ? env.code === 0 && env.message === 'ok'
          : Object.values(ErrorCodes).some(
              (e) =>
                e.code === env!.code &&
                (e.httpStatus === rep.status ||
                  (e.code === 5003 && [408, 431].includes(rep.status)) ||
                  (e.code === 5001 && rep.status === 504)),
            ));
      if (keys !== 'code,data,message' || !codeOk) {
        malformed++;
        flag('envelope', r, rep);
      }
    }
    if (
      STACK.test(text) ||
      text.includes(TOKEN) ||
      text.includes(PASSWORD_MARK) ||
      text.includes(SECRET_KEY) ||
      text.includes('mongodb://')
    ) {
      leaks++;
      flag('leak', r, rep);
    }
    return rep.status >= 400 || rep.status === 0;
  };
  const sendSafe = (r: Req): Promise<Reply> =>
    send(base, r).catch((err: unknown) => ({
      // A dropped connection without a reply counts as a malformed reply.
      status: 0,
      headers: {},
      body: Buffer.from(String((err as Error).message)),
    }));

  // Reads go 8 at a time; each write goes alone, with the stored state hashed before and after.
  let reads: Req[] = [];
  const flushReads = async () => {
    const batch = reads;
    reads = [];
    const replies = await Promise.all(batch.map(sendSafe));
    batch.forEach((r, i) => check(r, replies[i]));
  };
  for (let n = 0; n < TOTAL; n++) {
    const r = build(doc, ops, ids, rng);
    byKind[r.kind] = (byKind[r.kind] ?? 0) + 1;
    if (!r.write && !r.raw) {
      reads.push(r);
      if (reads.length >= 8) await flushReads();
    } else {
      await flushReads();
      const refused = check(r, await sendSafe(r));
      const after = await stateHash(client);
      if (refused) {
        refusedWrites++;
        if (after !== hash) {
          changed++;
          flag('state changed', r, { status: -1, headers: {}, body: Buffer.alloc(0) });
          hash = await settledHash(client);
        }
      } else if (after !== hash) {
        // An accepted write may start background work (a new registry's first discovery): wait it out.
        hash = await settledHash(client);
      }
    }
    if ((n + 1) % 1000 === 0) note(`fuzz: ${n + 1} requests, ${Math.round((Date.now() - t0) / 1000)} s`);
  }
  await flushReads();
  const seconds = (Date.now() - t0) / 1000;
  note(`fuzz: by kind ${JSON.stringify(byKind)}`);
  note(`fuzz: by status ${JSON.stringify(byStatus)}`);
  for (const e of examples) note(`fuzz: ${e}`);

  figure('seed', SEED);
  figure('requests', TOTAL);
  figure('operations', ops.length);
  figure('seconds', Math.round(seconds));
  figure('refused writes checked', refusedWrites);
  figure('5xx other than an honest upstream 502/504', fivexx, { mustBeZero: true });
  figure('malformed envelopes', malformed, { mustBeZero: true });
  figure('replies leaking a stack trace or secret', leaks, { mustBeZero: true });
  figure('state changed by a refused request', changed, { mustBeZero: true });
  figure('service still alive', (await fetch(`${service.url}/healthz`)).status === 200 ? 1 : 0);
});
