import type { Finding } from '../../clients/clair';
import { EgressDeniedError, outboundFor, type Outbound } from '../../clients/http/outbound';
import type { Config } from '../../config';
import type { SecretBox } from '../../crypto/secret-box';
import { NotFoundError, ParameterError } from '../../errors/app-error';
import type { Ctx } from '../../http/context';
import type { RegistriesService } from '../registries';
import { WebhookModel, type WebhookDoc } from './alerts.model';
import { createAlertOutbox, type AlertOutbox } from './alerts.outbox';
import type { CreateWebhook, ListWebhooksQuery, UpdateWebhook, WebhookView } from './alerts.schemas';

export const SECRET_MASK = '******';

export interface AlertsDeps {
  registries: RegistriesService;
  secretBox: SecretBox;
  alerts: Config['alerts'];
  /** The outbound HTTP layer: receiver URLs are checked against its egress policy when entered. */
  outbound?: Outbound;
  /** The derivation the hint runs (one per service when absent). */
  outbox?: AlertOutbox;
}

export interface AlertsService {
  list(q: ListWebhooksQuery): Promise<{ docs: WebhookView[]; count: number }>;
  get(id: string): Promise<WebhookView>;
  /** Throws NotFoundError (unknown registry filter). */
  create(body: CreateWebhook, ctx: Ctx): Promise<WebhookView>;
  update(id: string, body: UpdateWebhook, ctx: Ctx): Promise<WebhookView>;
  remove(id: string, ctx: Ctx): Promise<WebhookView>;
  /**
   * A wake-up hint after a scan stored findings for the first time: derives the alert outbox of that
   * digest now (alerts.outbox.ts) from what is stored (the findings and images flagged
   * `alertPending`), not from `findings`, which only says whether there is anything new. Nothing is
   * lost when this call never comes (a crash): the periodic pass derives the same flags. Never
   * throws and sends nothing itself (the delivery worker does), so a scan is neither failed nor
   * slowed by a receiver. Hints that arrive while a derivation runs share the next one; the promise
   * resolves with the deliveries that derivation queued (for every digest it covered).
   */
  newFindings(digest: string, findings: readonly Finding[], ctx: Ctx): Promise<number>;
  /** The HMAC key of a receiver id (`config:<n>` or a webhook _id); undefined: unsigned. Throws NotFoundError when the webhook is gone. */
  secretOf(receiver: string): Promise<string | undefined>;
}

const iso = (d: Date) => new Date(d).toISOString();

function toView(d: WebhookDoc): WebhookView {
  return {
    _id: String(d._id),
    url: d.url,
    minLevel: d.minLevel,
    secret: d.secretEnc ? SECRET_MASK : '',
    enabled: d.enabled !== false,
    repository: d.repository ?? null,
    createdAt: iso(d.createdAt),
    updatedAt: iso(d.updatedAt),
  };
}

/** The URL's scheme and host only: webhook URLs often carry a token in their path or query. */
export function urlForLogs(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return '(invalid url)';
  }
}

/** Scheme, host and port of a URL (default ports written out), or the URL itself when it is not one. */
function originOf(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.hostname}:${u.port || (u.protocol === 'https:' ? '443' : '80')}`;
  } catch {
    return url;
  }
}

/**
 * A receiver's HMAC secret belongs to the origin of the URL it was entered for: a new URL on another
 * origin (host, port, or https → http) must come with the secret again, or with `secret: ""` to send
 * unsigned. Otherwise whoever may edit a webhook, without knowing its secret, could have alerts signed
 * with it delivered to a server of their own (and replay them to the real receiver). Throws
 * ParameterError naming body.secret.
 */
function assertSecretStaysWithOrigin(current: WebhookDoc, body: UpdateWebhook): void {
  if (!current.secretEnc || body.url === undefined) return;
  const kept = body.secret === undefined || body.secret === SECRET_MASK;
  const [before, after] = [originOf(current.url), originOf(body.url)];
  if (kept && before !== after)
    throw new ParameterError(
      `body.secret: the receiver's origin changed (${before} → ${after}); send the secret again, or "" to send unsigned`,
    );
}

export function createAlertsService(deps: AlertsDeps): AlertsService {
  const outbound = deps.outbound ?? outboundFor();
  const outbox = deps.outbox ?? createAlertOutbox({ alerts: deps.alerts });
  // Digests hinted since the last derivation began, the derivation they will share, and the one running.
  const hinted = new Set<string>();
  let nextDerive: Promise<number> | null = null;
  let deriving: Promise<unknown> = Promise.resolve();

  /** A receiver URL the egress policy denies is refused when entered (5003 naming body.url and the rule). */
  async function assertEgress(url: string): Promise<void> {
    try {
      await outbound.assertAllowed(url);
    } catch (err) {
      if (err instanceof EgressDeniedError) throw new ParameterError(`body.url: ${err.message}`);
      throw err;
    }
  }

  async function find(id: string): Promise<WebhookDoc> {
    const doc = await WebhookModel.findById(id).lean<WebhookDoc>();
    if (!doc) throw new NotFoundError(`webhook ${id} not found`);
    return doc;
  }

  async function registryKey(repository: string | null | undefined): Promise<string | null | undefined> {
    if (repository === undefined || repository === null) return repository;
    return (await deps.registries.resolve(repository)).key;
  }

  return {
    async list(q) {
      const [docs, count] = await Promise.all([
        WebhookModel.find({}).sort({ createdAt: -1, _id: -1 }).skip(q.from).limit(q.size).lean<WebhookDoc[]>(),
        WebhookModel.countDocuments({}),
      ]);
      return { docs: docs.map(toView), count };
    },

    async get(id) {
      return toView(await find(id));
    },

    async create(body, ctx) {
      await assertEgress(body.url);
      const doc = await WebhookModel.create({
        url: body.url,
        minLevel: body.minLevel,
        secretEnc: body.secret && body.secret !== SECRET_MASK ? deps.secretBox.encrypt(body.secret) : '',
        enabled: body.enabled,
        repository: (await registryKey(body.repository)) ?? null,
      });
      ctx.log.info({ webhook: String(doc._id), receiver: urlForLogs(doc.url) }, 'alert webhook created');
      return toView(doc.toObject() as WebhookDoc);
    },

    async update(id, body, ctx) {
      const current = await find(id);
      assertSecretStaysWithOrigin(current, body);
      const set: Record<string, unknown> = {};
      if (body.url !== undefined) {
        await assertEgress(body.url);
        set.url = body.url;
      }
      if (body.minLevel !== undefined) set.minLevel = body.minLevel;
      if (body.enabled !== undefined) set.enabled = body.enabled;
      if (body.repository !== undefined) set.repository = await registryKey(body.repository);
      if (body.secret !== undefined && body.secret !== SECRET_MASK) {
        set.secretEnc = body.secret ? deps.secretBox.encrypt(body.secret) : '';
      }
      const doc = await WebhookModel.findByIdAndUpdate(
        id,
        { $set: set },
        { returnDocument: 'after' },
      ).lean<WebhookDoc>();
      if (!doc) throw new NotFoundError(`webhook ${id} not found`);
      ctx.log.info({ webhook: id, receiver: urlForLogs(doc.url) }, 'alert webhook updated');
      return toView(doc);
    },

    async remove(id, ctx) {
      const doc = await WebhookModel.findByIdAndDelete(id).lean<WebhookDoc>();
      if (!doc) throw new NotFoundError(`webhook ${id} not found`);
      ctx.log.info({ webhook: id }, 'alert webhook deleted');
      return toView(doc);
    },

    newFindings(digest, findings, ctx) {
      // A hint, not the source of truth: what is announced is derived from the stored flags, by a
      // derivation soon after this call, or by the periodic pass when this call never comes (a crash).
      if (!findings.length) return Promise.resolve(0);
      hinted.add(digest);
      if (!nextDerive) {
        // Hints that arrive while a derivation runs share the next one: one pass for many scans.
        const run = deriving.then(async () => {
          nextDerive = null;
          const digests = [...hinted];
          hinted.clear();
          try {
            const result = await outbox.derive(ctx, digests);
            if (result.deliveries) ctx.log.info({ ...result, hinted: digests.length }, 'alerts queued');
            return result.deliveries;
          } catch (err) {
            ctx.log.warn(
              { digests: digests.length, err: (err as Error).message },
              'alerts not derived now; the periodic pass will',
            );
            return 0;
          }
        });
        nextDerive = run;
        deriving = run;
      }
      return nextDerive;
    },

    async secretOf(receiver) {
      if (receiver.startsWith('config:')) return deps.alerts.secret;
      const doc = await WebhookModel.findById(receiver, { secretEnc: 1 }).lean<WebhookDoc>();
      if (!doc) throw new NotFoundError(`webhook ${receiver} was deleted`);
      return doc.secretEnc ? deps.secretBox.decrypt(doc.secretEnc) : undefined;
    },
  };
}
