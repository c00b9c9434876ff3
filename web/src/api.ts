/**
 * The console's only way to the service: the REST API under /api, with the `{code, data, message}`
 * envelope. A stored token (sessionStorage, see auth.ts) goes in `Authorization: Bearer`.
 */
export const LEVELS = ['critical', 'high', 'medium', 'low', 'negligible', 'unknown'] as const;
export type Level = (typeof LEVELS)[number];
export type LevelName = 'Critical' | 'High' | 'Medium' | 'Low' | 'Negligible' | 'Unknown';
export type Counts = Record<Level, number>;
export type Weights = Record<Level, number>;

export interface Registry {
  _id: string;
  key: string;
  name: string;
  repository: string;
  port: number;
  username: string;
  passwd: string;
  isHttps: boolean;
  isAuth: boolean;
  isConnect: boolean;
  connectError: string | null;
  lastTestedAt: string | null;
  skipTlsVerify: boolean;
  kind: string;
  options: Record<string, unknown>;
  schedule: string;
}

export interface Image extends Counts {
  repository: string;
  image: string;
  tag: string;
  name: string;
  platform: string;
  digest: string | null;
  namespace: string | null;
  packages: number;
  score: number | null;
  scanStatus: 'pending' | 'scanning' | 'done' | 'failed';
  scanError?: string;
  present: boolean;
  created_at: string | null;
  updated_at: string | null;
}

export interface Finding {
  description: string;
  link: string;
  level: LevelName;
  type: string;
  version: string;
  fixedBy: string;
  cveId: string;
  created_at: string;
  updated_at: string;
  suppressed: boolean;
}

export interface Cve {
  cveId: string;
  level: LevelName;
  images: number;
  tags: number;
  digests: number;
  fixable: boolean;
  description: string;
  link: string;
  packages: string[];
}

export interface CveImage {
  repository: string;
  image: string;
  tag: string;
  platform: string;
  digest: string;
  level: LevelName;
  packages: Array<{ package: string; version: string; fixedBy: string; level: LevelName }>;
}

export interface HistoryPoint extends Counts {
  at: string;
  digest: string;
  packages: number;
  score: number | null;
}

export interface JobsProgress {
  repository: string | null;
  discovering: boolean;
  lastDiscovery: {
    startedAt: string | null;
    finishedAt: string | null;
    error: string | null;
    tags: number | null;
  } | null;
  total: number;
  byState: { pending: number; scanning: number; done: number; failed: number };
  jobs: { queued: number; running: number; done: number; failed: number };
  percentDone: number;
  etaSeconds: number | null;
}

export type Scope = 'global' | 'registry' | 'image' | 'tag';
export interface Suppression {
  _id: string;
  cveId: string;
  scope: Scope;
  repository: string | null;
  image: string | null;
  tag: string | null;
  reason: string;
  author: string;
  expiresAt: string | null;
  active: boolean;
  createdAt: string;
}

export interface Webhook {
  _id: string;
  url: string;
  minLevel: Level;
  secret: string;
  enabled: boolean;
  repository: string | null;
  createdAt: string;
}

export interface Schedule {
  cron: string;
  enabled: boolean;
  source: 'api' | 'config' | 'none';
  timezone: string;
  nextRun: string | null;
  lastFiredAt: string | null;
}

export interface Page<T> {
  docs: T[];
  count: number;
}
export interface Sort<F extends string = string> {
  field: F;
  order: 'asc' | 'desc';
}

/** An error reply of the API (or a transport failure, code 0). */
export class ApiError extends Error {
  constructor(
    readonly code: number,
    readonly apiMessage: string,
    readonly data: unknown,
    readonly status: number,
  ) {
    super(`${apiMessage} (${code}): ${typeof data === 'string' ? data : JSON.stringify(data)}`);
  }
}

const TOKEN_KEY = 'vulnscan.token';
export const tokenStore = {
  get: (): string | null => sessionStorage.getItem(TOKEN_KEY),
  set: (t: string): void => sessionStorage.setItem(TOKEN_KEY, t),
  clear: (): void => sessionStorage.removeItem(TOKEN_KEY),
};

/** Listeners told when the API refuses the token (401) or a write (403), so the shell can react. */
type AuthListener = (status: 401 | 403) => void;
const listeners = new Set<AuthListener>();
export function onAuthProblem(l: AuthListener): () => void {
  listeners.add(l);
  return () => listeners.delete(l);
}

export interface CallOptions {
  body?: unknown;
  query?: Record<string, string | number | boolean | undefined | null>;
  token?: string | null;
  /** Do not tell listeners (the token check and the read-only probe handle their own replies). */
  quiet?: boolean;
}

export async function call<T>(method: string, path: string, opts: CallOptions = {}): Promise<T> {
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(opts.query ?? {}))
    if (v !== undefined && v !== null && v !== '') qs.set(k, String(v));
  const url = qs.size ? `${path}?${qs}` : path;
  const headers: Record<string, string> = { accept: 'application/json' };
  const token = opts.token === undefined ? tokenStore.get() : opts.token;
  if (token) headers.authorization = `Bearer ${token}`;
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(url, { method, headers, body: opts.body === undefined ? undefined : JSON.stringify(opts.body) });
  } catch (e) {
    throw new ApiError(0, 'network', (e as Error).message, 0);
  }
  let env: { code?: number; data?: unknown; message?: string } = {};
  try {
    env = (await res.json()) as typeof env;
  } catch {
    throw new ApiError(5000, 'internalException', `HTTP ${res.status}`, res.status);
  }
  if (!res.ok || env.code !== 0) {
    if (!opts.quiet && (res.status === 401 || res.status === 403)) for (const l of listeners) l(res.status);
    throw new ApiError(env.code ?? 5000, env.message ?? 'internalException', env.data ?? null, res.status);
  }
  return env.data as T;
}

/** Query-string of an export link; the browser downloads it with the token in the URL-less fetch below. */
export async function download(
  path: string,
  query: Record<string, string | undefined>,
  filename: string,
): Promise<void> {
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v) qs.set(k, v);
  const token = tokenStore.get();
  const res = await fetch(`${path}?${qs}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  if (!res.ok) {
    const env = (await res.json().catch(() => ({}))) as { code?: number; data?: unknown; message?: string };
    throw new ApiError(env.code ?? 5000, env.message ?? 'internalException', env.data ?? null, res.status);
  }
  const blob = await res.blob();
  const a = document.createElement('a');
  a.href = URL.createObjectURL(blob);
  a.download = filename;
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
}

export const imageKey = (i: { repository: string; image: string; tag: string; platform?: string }) =>
  `${i.repository}/${i.image}:${i.tag}${i.platform ? `@${i.platform}` : ''}`;
