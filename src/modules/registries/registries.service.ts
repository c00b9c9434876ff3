import { isIP } from 'node:net';
import { EgressDeniedError, outboundFor, type Outbound } from '../../clients/http/outbound';
import { createRegistryClient } from '../../clients/registry/registry.client';
import type { RegistryClient, RegistryTarget } from '../../clients/registry/registry.types';
import {
  createImageLister,
  validateKindOptions,
  type ImageLister,
  type RegistryKind,
} from '../../clients/registry/vendors';
import type { SecretBox } from '../../crypto/secret-box';
import { AppError, ConflictError, NotFoundError, ParameterError, RegistryError } from '../../errors/app-error';
import type { Ctx } from '../../http/context';
import { cronProblem } from '../../domain/cron';
import { ImageModel } from '../images';
import { purgeRegistryImages } from '../scanner/purge';
import { addedOrigins, passwordOrigins, tokenOrigins, type OriginFields } from './credential-origin';
import { RegistryModel, type RegistryDoc } from './registry.model';
import type { CreateRegistry, RegistryView, UpdateRegistry } from './registries.schemas';

/** The mask replies show instead of a stored password; sent back on update it keeps the password. */
export const PASSWORD_MASK = '******';

const BODY_FIELDS = { host: 'body.repository', apiUrl: 'body.options.apiUrl' };

export interface RegistriesDeps {
  secretBox: SecretBox;
  /** Timeout of each registry call made for scans. */
  timeoutMs: number;
  /** Bound of a whole connection test (create, update, PUT ?repository=). */
  testTimeoutMs: number;
  /** Time zone of schedules (validation only). */
  timezone?: string;
  /** Politeness of the v2 clients used for discovery and scans (request rate, 429 retries). */
  politeness?: { maxRequestsPerSecond: number; requestBurst?: number; retries429: number; maxRetryAfterMs: number };
  /** Called after a create succeeded, fire-and-forget (the scan pipeline starts a first discovery). */
  onRegistryCreated?: (key: string) => void;
  /** The outbound HTTP layer (egress policy); the default policy when absent. */
  outbound?: Outbound;
}

export interface RegistriesService {
  list(): Promise<RegistryView[]>;
  /** The registry named by `?repository=` (key, alias or bare host). Throws NotFoundError, ParameterError (ambiguous). */
  resolve(param: string): Promise<RegistryView>;
  create(input: CreateRegistry, ctx: Ctx): Promise<RegistryView>;
  update(input: UpdateRegistry, ctx: Ctx): Promise<RegistryView>;
  remove(param: string, ctx: Ctx): Promise<RegistryView>;
  testConnection(param: string, ctx: Ctx): Promise<RegistryView>;
  /** A client for the registry `key` (password decrypted), cached until the registry changes. Throws NotFoundError. */
  clientFor(
    key: string,
    ctx: Ctx,
  ): Promise<{ registry: RegistryView; client: RegistryClient; lister: ImageLister | null }>;
}

/** Kind options that are credentials (SWR's IAM token): encrypted at rest, masked in replies. */
const SECRET_OPTIONS = ['token'] as const;

function maskOptions(options: Record<string, unknown>): Record<string, unknown> {
  const out = { ...options };
  for (const k of SECRET_OPTIONS) if (out[k]) out[k] = PASSWORD_MASK;
  return out;
}

/** The registry key used everywhere: `host:port` (`[v6]:port` for IPv6). */
export function registryKey(host: string, port: number): string {
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}

/** What every reply shows: the seed's fields plus key and test state, never the password. */
export function toView(doc: RegistryDoc): RegistryView {
  const iso = (d: unknown) => (d instanceof Date ? d.toISOString() : d == null ? null : String(d));
  return {
    _id: String(doc._id),
    __v: doc.__v,
    key: doc.key,
    name: doc.name ?? '',
    repository: doc.repository,
    port: doc.port,
    username: doc.username ?? '',
    passwd: doc.passwdEnc ? PASSWORD_MASK : '',
    isHttps: Boolean(doc.isHttps),
    isAuth: Boolean(doc.isAuth),
    isConnect: Boolean(doc.isConnect),
    connectError: doc.connectError ?? null,
    lastTestedAt: iso(doc.lastTestedAt),
    skipTlsVerify: Boolean(doc.skipTlsVerify),
    kind: doc.kind ?? 'registry',
    options: maskOptions((doc.options as Record<string, unknown> | undefined) ?? {}),
    schedule: doc.schedule ?? '',
    createdAt: iso(doc.createdAt) ?? undefined,
    updatedAt: iso(doc.updatedAt) ?? undefined,
  };
}

function isDuplicateKey(e: unknown): boolean {
  return (e as { code?: number } | null)?.code === 11000;
}

/** Builds the registries service around a secret box and timeouts; one instance per app. */
export function createRegistriesService(deps: RegistriesDeps): RegistriesService {
  const clients = new Map<string, { stamp: string; client: RegistryClient; lister: ImageLister | null }>();

  function targetOf(doc: RegistryDoc): RegistryTarget {
    const target: RegistryTarget = {
      host: doc.repository,
      port: doc.port,
      isHttps: Boolean(doc.isHttps),
      skipTlsVerify: Boolean(doc.skipTlsVerify),
    };
    if (doc.isAuth && doc.username) {
      let password = '';
      if (doc.passwdEnc) {
        try {
          password = deps.secretBox.decrypt(doc.passwdEnc);
        } catch (err) {
          throw new RegistryError(
            `registry ${doc.key}: its stored password cannot be decrypted with the current SECRET_KEY; set passwd again`,
            { cause: err },
          );
        }
      }
      target.credentials = { username: doc.username, password };
    }
    return target;
  }

  /** Encrypts secret options; a masked value sent back keeps the stored one. */
  function sealOptions(
    options: Record<string, unknown>,
    stored: Record<string, unknown> = {},
  ): Record<string, unknown> {
    const out = { ...options };
    for (const k of SECRET_OPTIONS) {
      if (out[k] === PASSWORD_MASK) out[k] = stored[k];
      else if (typeof out[k] === 'string' && out[k]) out[k] = deps.secretBox.encrypt(out[k] as string);
      if (out[k] === undefined) delete out[k];
    }
    return out;
  }

  function openOptions(doc: RegistryDoc): Record<string, unknown> {
    const out = { ...((doc.options as Record<string, unknown> | undefined) ?? {}) };
    for (const k of SECRET_OPTIONS) {
      if (typeof out[k] !== 'string' || !out[k]) continue;
      try {
        out[k] = deps.secretBox.decrypt(out[k] as string);
      } catch (err) {
        throw new RegistryError(
          `registry ${doc.key}: its stored options.${k} cannot be decrypted with the current SECRET_KEY; set it again`,
          { cause: err },
        );
      }
    }
    return out;
  }

  async function findDoc(filter: Record<string, unknown>): Promise<RegistryDoc | null> {
    return RegistryModel.findOne(filter).lean<RegistryDoc>();
  }

  async function resolveDoc(param: string): Promise<RegistryDoc> {
    const p = param.trim();
    const keyed = /^(.+):(\d{1,5})$/.exec(p);
    if (keyed) {
      const host = keyed[1].replace(/^\[(.*)\]$/, '$1').toLowerCase();
      const doc = await findDoc({ key: registryKey(host, Number(keyed[2])) });
      if (!doc) throw new NotFoundError(`registry ${p} not found`);
      return doc;
    }
    const byAlias = await findDoc({ name: p });
    if (byAlias) return byAlias;
    const byHost = await RegistryModel.find({ repository: p.toLowerCase() }).sort({ key: 1 }).lean<RegistryDoc[]>();
    if (byHost.length === 1) return byHost[0];
    if (byHost.length > 1) {
      throw new ParameterError(
        `query.repository: "${p}" is ambiguous: ${byHost.map((d) => d.key).join(', ')} share this host; give host:port`,
      );
    }
    throw new NotFoundError(`registry "${p}" not found (give the key host:port, the alias, or the host)`);
  }

  async function assertNoConflict(key: string, name: string, exceptId?: unknown): Promise<void> {
    const others = await RegistryModel.find({
      $or: [{ key }, ...(name ? [{ aliasKey: name }] : [])],
      ...(exceptId ? { _id: { $ne: exceptId } } : {}),
    }).lean<RegistryDoc[]>();
    for (const o of others) {
      if (o.key === key) throw new ConflictError(`a registry ${key} (repository and port) already exists`);
      throw new ConflictError(`the alias "${name}" is already used by registry ${o.key}`);
    }
  }

  /** '' (no schedule) or a cron expression croner accepts; else ParameterError naming body.schedule. */
  function checkSchedule(schedule: string | undefined): string | undefined {
    if (schedule === undefined || schedule === '') return schedule;
    const problem = cronProblem(schedule, deps.timezone);
    if (problem) throw new ParameterError(`body.schedule: "${schedule}" ${problem}`);
    return schedule;
  }

  function assertCredentials(isAuth: boolean, username: string, hasPassword: boolean): void {
    if (!isAuth) return;
    if (!username) throw new ParameterError('body.username: is required when isAuth is true');
    if (!hasPassword) throw new ParameterError('body.passwd: is required when isAuth is true');
  }

  const outbound = deps.outbound ?? outboundFor();

  /**
   * Refuses a registry whose host or vendor apiUrl the egress policy denies (ParameterError naming the
   * field and the rule), before anything is stored or sent. Connections are checked again when made.
   */
  async function assertEgress(fields: { host: string; apiUrl: string }, host: string, options: unknown): Promise<void> {
    const apiUrl = (options as { apiUrl?: unknown } | undefined)?.apiUrl;
    const checks: Array<[string, string]> = [[fields.host, host]];
    if (typeof apiUrl === 'string' && apiUrl) checks.push([fields.apiUrl, apiUrl]);
    for (const [field, value] of checks) {
      try {
        await outbound.assertAllowed(value);
      } catch (err) {
        if (err instanceof EgressDeniedError) throw new ParameterError(`${field}: ${err.message}`);
        throw err;
      }
    }
  }

  /**
   * Refuses (ParameterError naming the field) an update that would send a kept secret to an origin it
   * was not entered for: another host, port or scheme (https → http), TLS checks turned off, or another
   * `options.apiUrl`. Sending the secret again makes the change. A kept password of a registry whose
   * isAuth is now false is dropped instead (`clearPassword('')`): it is not used, and cannot follow.
   */
  function bindSecretsToOrigin(
    current: RegistryDoc,
    next: OriginFields & { isAuth: boolean; passwdEnc: string; options: Record<string, unknown> },
    passwordSent: boolean,
    clearPassword: (value: string) => void,
  ): void {
    if (current.passwdEnc && !passwordSent) {
      const before = passwordOrigins(current);
      const after = passwordOrigins(next);
      if (addedOrigins(before, after).length) {
        if (!next.isAuth) clearPassword('');
        else
          throw new ParameterError(
            `body.passwd: the registry's origin changed (${before.join(' + ')} → ${after.join(' + ')}); ` +
              'send the password again',
          );
      }
    }
    const stored = (current.options as Record<string, unknown> | undefined)?.token;
    // Kept: sent back masked, or options not sent at all (the stored, sealed value stays).
    if (
      typeof stored === 'string' &&
      stored &&
      (next.options.token === PASSWORD_MASK || next.options.token === stored)
    ) {
      const before = tokenOrigins(current);
      const after = tokenOrigins(next);
      if (addedOrigins(before, after).length)
        throw new ParameterError(
          `body.options.token: the SWR API origin changed (${before.join(' + ') || 'none'} → ${after.join(' + ')}); ` +
            'send the token again',
        );
    }
  }

  /** Runs `GET /v2/` (with the token exchange) bounded by testTimeoutMs and stores the result. */
  async function runTest(doc: RegistryDoc, ctx: Ctx): Promise<RegistryDoc> {
    let connectError: string | null = null;
    const started = Date.now();
    let timer: NodeJS.Timeout | undefined;
    try {
      const client = createRegistryClient(targetOf(doc), {
        timeoutMs: deps.testTimeoutMs,
        keepAlive: false,
        outbound,
      });
      await Promise.race([
        client.ping(ctx),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new RegistryError(`registry ${doc.key}: no answer within ${deps.testTimeoutMs} ms (timeout)`)),
            deps.testTimeoutMs,
          );
        }),
      ]);
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      connectError = err.message;
    } finally {
      clearTimeout(timer);
    }
    const lastTestedAt = new Date();
    await RegistryModel.updateOne(
      { _id: doc._id },
      { $set: { isConnect: connectError === null, connectError, lastTestedAt } },
    );
    ctx.log.info(
      { registry: doc.key, isConnect: connectError === null, connectError, ms: Date.now() - started },
      'registry connection tested',
    );
    return { ...doc, isConnect: connectError === null, connectError, lastTestedAt };
  }

  return {
    async list() {
      const docs = await RegistryModel.find().sort({ key: 1 }).lean<RegistryDoc[]>();
      return docs.map(toView);
    },

    async resolve(param) {
      return toView(await resolveDoc(param));
    },

    async create(input, ctx) {
      const host = input.repository.toLowerCase();
      const key = registryKey(host, input.port);
      const name = input.name ?? '';
      const passwd = input.passwd && input.passwd !== PASSWORD_MASK ? input.passwd : '';
      const username = input.username ?? '';
      const isAuth = input.isAuth ?? false;
      assertCredentials(isAuth, username, Boolean(passwd));
      const kind = input.kind ?? 'registry';
      // Kind-specific options are checked here (5003 naming the field) so a registry that cannot be listed is never stored.
      const options = sealOptions(validateKindOptions(kind, input.options ?? {}));
      const schedule = checkSchedule(input.schedule) ?? '';
      await assertEgress(BODY_FIELDS, host, input.options);
      await assertNoConflict(key, name);
      let created;
      try {
        created = await RegistryModel.create({
          repository: host,
          port: input.port,
          key,
          name,
          aliasKey: name || key,
          kind,
          username,
          passwdEnc: passwd ? deps.secretBox.encrypt(passwd) : '',
          isHttps: input.isHttps ?? false,
          isAuth,
          skipTlsVerify: input.skipTlsVerify ?? false,
          options,
          schedule,
        });
      } catch (e) {
        // A concurrent create won the race between the check and the insert.
        if (isDuplicateKey(e))
          throw new ConflictError(`registry ${key} or alias "${name}" already exists`, { cause: e });
        throw e;
      }
      ctx.log.info({ registry: key }, 'registry created');
      const tested = await runTest(created.toObject() as RegistryDoc, ctx);
      if (deps.onRegistryCreated) {
        const hook = deps.onRegistryCreated;
        void Promise.resolve()
          .then(() => hook(key))
          .catch((err: unknown) => ctx.log.error({ err, registry: key }, 'onRegistryCreated hook failed'));
      }
      return toView(tested);
    },

    async update(input, ctx) {
      const current = input._id
        ? await findDoc({ _id: input._id })
        : await findDoc({ key: registryKey(input.repository!.toLowerCase(), input.port!) });
      if (!current) {
        const which = input._id ? `_id ${input._id}` : registryKey(input.repository!, input.port!);
        throw new NotFoundError(`registry ${which} not found`);
      }
      const host = input.repository?.toLowerCase() ?? current.repository;
      const port = input.port ?? current.port;
      const key = registryKey(host, port);
      const name = input.name ?? current.name ?? '';
      const newPasswd = input.passwd && input.passwd !== PASSWORD_MASK ? input.passwd : undefined;
      const next = {
        repository: host,
        port,
        key,
        name,
        aliasKey: name || key,
        kind: input.kind ?? current.kind ?? 'registry',
        username: input.username ?? current.username ?? '',
        passwdEnc: newPasswd ? deps.secretBox.encrypt(newPasswd) : (current.passwdEnc ?? ''),
        isHttps: input.isHttps ?? Boolean(current.isHttps),
        isAuth: input.isAuth ?? Boolean(current.isAuth),
        skipTlsVerify: input.skipTlsVerify ?? Boolean(current.skipTlsVerify),
        options: input.options ?? current.options ?? {},
        schedule: checkSchedule(input.schedule) ?? current.schedule ?? '',
      };
      const storedOptions = (current.options as Record<string, unknown> | undefined) ?? {};
      const given = input.options ? { ...input.options } : { ...storedOptions };
      // Validate what the console sent (a masked secret counts as present), then keep or encrypt secrets.
      validateKindOptions(next.kind as RegistryKind, given);
      bindSecretsToOrigin(current, { ...next, options: given }, newPasswd !== undefined, (cleared) => {
        next.passwdEnc = cleared;
      });
      assertCredentials(next.isAuth, next.username, Boolean(next.passwdEnc));
      next.options = input.options ? sealOptions(given, storedOptions) : storedOptions;
      await assertEgress(BODY_FIELDS, host, given);
      await assertNoConflict(key, name, current._id);
      try {
        await RegistryModel.updateOne({ _id: current._id }, { $set: next, $inc: { __v: 1 } });
      } catch (e) {
        if (isDuplicateKey(e))
          throw new ConflictError(`registry ${key} or alias "${name}" already exists`, { cause: e });
        throw e;
      }
      if (key !== current.key) {
        // Images are filed under the key; follow the rename so they stay with their registry.
        await ImageModel.updateMany({ repository: current.key }, { $set: { repository: key } });
        clients.delete(current.key);
      }
      const updated = (await findDoc({ _id: current._id }))!;
      ctx.log.info({ registry: key, previous: current.key }, 'registry updated');
      const connectionChanged =
        key !== current.key ||
        newPasswd !== undefined ||
        (['username', 'isHttps', 'isAuth', 'skipTlsVerify'] as const).some(
          (f) => String(next[f]) !== String(current[f] ?? ''),
        );
      return toView(connectionChanged ? await runTest(updated, ctx) : updated);
    },

    async remove(param, ctx) {
      const doc = await resolveDoc(param);
      await RegistryModel.deleteOne({ _id: doc._id });
      clients.delete(doc.key);
      const purged = await purgeRegistryImages(doc.key);
      ctx.log.info({ registry: doc.key, ...purged }, 'registry removed with its images and their orphaned findings');
      return toView(doc);
    },

    async testConnection(param, ctx) {
      const doc = await resolveDoc(param);
      await assertEgress(
        { host: `query.repository (host of ${doc.key})`, apiUrl: `query.repository (options.apiUrl of ${doc.key})` },
        doc.repository,
        doc.options,
      );
      return toView(await runTest(doc, ctx));
    },

    async clientFor(key, _ctx) {
      const doc = await findDoc({ key });
      if (!doc) throw new NotFoundError(`registry ${key} not found`);
      const stamp = `${String(doc.updatedAt)}|${doc.passwdEnc}|${doc.__v}`;
      let entry = clients.get(key);
      if (!entry || entry.stamp !== stamp) {
        const target = targetOf(doc);
        const kind = (doc.kind ?? 'registry') as RegistryKind;
        entry = {
          stamp,
          client: createRegistryClient(target, {
            timeoutMs: deps.timeoutMs,
            ...deps.politeness,
            // A per-registry rate in options (vendor kinds) bounds the v2 calls as well.
            ...(typeof (doc.options as { maxRequestsPerSecond?: unknown } | undefined)?.maxRequestsPerSecond ===
            'number'
              ? { maxRequestsPerSecond: (doc.options as { maxRequestsPerSecond: number }).maxRequestsPerSecond }
              : {}),
            outbound,
          }),
          lister: createImageLister({ kind, options: openOptions(doc), target, timeoutMs: deps.timeoutMs, outbound }),
        };
        clients.set(key, entry);
      }
      return { registry: toView(doc), client: entry.client, lister: entry.lister };
    },
  };
}
