import { randomUUID } from 'node:crypto';
import type { Types } from 'mongoose';
import type { Config } from '../../config';
import { insertManyCapped } from '../../db/batch';
import { acquireLease, keepLease, releaseLease } from '../../db/lease';
import { LEVEL_RANK, normaliseLevel, type Level } from '../../domain/severity';
import type { Ctx } from '../../http/context';
import { createPeriodic, type Periodic } from '../../jobs/periodic';
import type { Logger } from '../../logger';
import { ImageModel } from '../images';
import { FindingModel } from '../scanner/finding.model';
import { loadActiveSuppressions, suppressedCves, type ActiveSuppression } from '../suppressions/suppression.match';
import { AlertEntryModel, DeliveryModel, WebhookModel, type WebhookDoc } from './alerts.model';
import type { AlertPayload } from './alerts.schemas';

/**
 * The alert outbox, derived from stored state (docs/reliability.md, "Alerts exactly once").
 *
 * What is new is written with the data itself, in the same write: a finding stored for the first
 * time carries `alertPending: true` (findings.store.ts), and so does an image that became present
 * with a digest (new tag, tag back, tag moved to another digest: discovery's upsertResolved). A
 * crash after that write loses nothing: the flag stays until a derivation has turned it into entries.
 *
 * A derivation, for each digest with flagged findings or images and each receiver watching one of
 * the digest's present images, inserts one entry per CVE it must hear about into `alert_entries`,
 * whose `_id` is `receiver|digest|cveId`: that unique key is the promise that a (digest,
 * vulnerability, receiver) is announced at most once, whoever derives it, however often. A CVE must
 * be heard about when it is at or above the receiver's level, not suppressed on every one of the
 * receiver's images of the digest, and either a flagged finding's CVE or any open CVE of the digest
 * when one of the receiver's images is flagged (the digest is new to a registry it watches, even if
 * it was known from another registry). Entries inserted together carry one event id; the event's
 * delivery (one `alert_deliveries` document, unique `(eventId, receiver)`) is built from exactly the
 * entries with that id, then the entries are marked `queued`, then the flags are cleared. Entries
 * left unqueued by a crash are queued by the next pass (`recover`), so no step's crash loses or
 * repeats an alert.
 */

/** Bounds of one payload: a first scan can bring hundreds of CVEs and a digest can serve many tags. */
export const MAX_CVES_PER_EVENT = 1000;
const MAX_IMAGES = 500;
/** Pending findings or images read per round of a pass. */
const ROUND = 500;
/** Unqueued entries younger than this belong to a derivation still running; older ones were left by a crash. */
const RECOVER_AFTER_MS = 60_000;
const LEASE = 'alert-derive';
const LEASE_MS = 60_000;
const EVERY_MS = 30_000;

/** One receiver as the derivation sees it. */
export interface Receiver {
  id: string;
  url: string;
  minLevel: Level;
  /** Registry filter (the registry key; null: every registry). */
  repository: string | null;
}

/** Configured receivers (ALERT_WEBHOOK_URLS, ids `config:<n>`) and enabled managed webhooks. */
export async function loadReceivers(alerts: Config['alerts']): Promise<Receiver[]> {
  const configured = alerts.webhookUrls.map((url, i) => ({
    id: `config:${i}`,
    url,
    minLevel: alerts.minLevel,
    repository: null,
  }));
  const managed = await WebhookModel.find({ enabled: true }, { url: 1, minLevel: 1, repository: 1 }).lean<
    WebhookDoc[]
  >();
  return [
    ...configured,
    ...managed.map((w) => ({ id: String(w._id), url: w.url, minLevel: w.minLevel, repository: w.repository })),
  ];
}

interface ImageRefDoc {
  _id: Types.ObjectId;
  repository: string;
  image: string;
  tag: string;
  digest: string;
  present?: boolean;
}

/** Whether a receiver hears about an image: its registry filter. The one place that reads the filter. */
export function watches(r: Receiver, img: { repository: string }): boolean {
  return !r.repository || img.repository === r.repository;
}

const rank = (level: string) => LEVEL_RANK[normaliseLevel(level)];
export const entryId = (receiver: string, digest: string, cveId: string) => `${receiver}|${digest}|${cveId}`;

interface FindingRow {
  _id: Types.ObjectId;
  digest: string;
  cveId: string;
  type: string;
  version: string;
  level: string;
  fixedBy: string;
  link: string;
}
const FINDING_FIELDS = { digest: 1, cveId: 1, type: 1, version: 1, level: 1, fixedBy: 1, link: 1 };

export interface DeriveResult {
  digests: number;
  /** Entries inserted: (receiver, digest, CVE) announced for the first time. */
  entries: number;
  /** Deliveries queued. */
  deliveries: number;
  /** Events left unqueued by a crash and queued now. */
  recovered: number;
}

const empty = (): DeriveResult => ({ digests: 0, entries: 0, deliveries: 0, recovered: 0 });

export interface AlertOutbox {
  /**
   * Derives the entries and deliveries of flagged findings and images, of the given digests only
   * when `digests` is set, until none is left (or `signal` aborts). Safe to run anywhere, at once, any
   * number of times: entries are unique by key and each event is built only by the derivation that
   * inserted its entries.
   */
  derive(ctx: Ctx, digests?: readonly string[]): Promise<DeriveResult>;
  /** Queues events whose entries a crashed derivation inserted and never queued (older than a minute). */
  recover(ctx: Ctx, now?: Date): Promise<number>;
}

export function createAlertOutbox(deps: { alerts: Config['alerts'] }): AlertOutbox {
  /** Builds and inserts the delivery of event `eventId` from its stored entries, then marks them queued. */
  async function queueEvent(
    eventId: string,
    receivers: ReadonlyMap<string, Receiver>,
    sups: readonly ActiveSuppression[],
    ctx: Ctx,
  ): Promise<boolean> {
    const entries = await AlertEntryModel.find({ eventId }, { receiver: 1, digest: 1, cveId: 1 }).lean<
      Array<{ _id: string; receiver: string; digest: string; cveId: string }>
    >();
    if (!entries.length) return false;
    const { receiver: rid, digest } = entries[0]!;
    const r = receivers.get(rid);
    let queued = false;
    if (r) {
      const cves = new Set(entries.map((e) => e.cveId));
      const found = await FindingModel.find(
        { digest, cveId: { $in: [...cves] } },
        { ...FINDING_FIELDS, fixedAt: 1 },
      ).lean<Array<FindingRow & { fixedAt: Date | null }>>();
      // Open findings at or above the receiver's level; a CVE fixed or re-levelled since still shows what is known of it.
      const open = found.filter((f) => f.fixedAt == null);
      const pool = open.length ? open : found;
      const atLevel = pool.filter((f) => rank(f.level) >= LEVEL_RANK[r.minLevel]);
      const vulns = (atLevel.length ? atLevel : pool).sort(
        (a, b) => rank(b.level) - rank(a.level) || a.cveId.localeCompare(b.cveId) || a.type.localeCompare(b.type),
      );
      const images = (
        await ImageModel.find({ digest, present: true }, { repository: 1, image: 1, tag: 1 })
          .limit(MAX_IMAGES)
          .lean<ImageRefDoc[]>()
      ).filter((i) => watches(r, i));
      const shown = images.filter((i) => {
        const s = suppressedCves(sups, i);
        return [...cves].some((c) => !s.has(c));
      });
      const now = new Date();
      const payload: AlertPayload = {
        id: eventId,
        type: 'vulnerabilities.new',
        createdAt: now.toISOString(),
        digest,
        minLevel: r.minLevel,
        vulnerabilities: vulns.map((f) => ({
          cveId: f.cveId,
          level: f.level,
          package: f.type,
          version: f.version,
          fixedBy: f.fixedBy,
          link: f.link,
        })),
        vulnerabilitiesTotal: vulns.length,
        images: (shown.length ? shown : images).map((i) => ({
          registry: i.repository,
          image: i.image,
          tag: i.tag,
          digest,
        })),
      };
      ctx.signal?.throwIfAborted();
      try {
        await DeliveryModel.create({
          eventId,
          receiver: r.id,
          url: r.url,
          body: JSON.stringify(payload),
          state: 'pending',
          attempts: 0,
          notBefore: now,
        });
        queued = true;
      } catch (err) {
        // Queued already (by this event's derivation, before a crash): the same event, not another.
        if ((err as { code?: number }).code !== 11000) throw err;
      }
    }
    // A receiver deleted or disabled meanwhile hears nothing; its entries are closed all the same.
    await AlertEntryModel.updateMany({ eventId }, { $set: { queued: true } });
    return queued;
  }

  async function deriveDigests(
    digests: readonly string[],
    pendingFindings: ReadonlyMap<string, Array<{ _id: Types.ObjectId; cveId: string }>>,
    pendingImages: ReadonlyMap<string, ImageRefDoc[]>,
    ctx: Ctx,
    result: DeriveResult,
  ): Promise<void> {
    const list = await loadReceivers(deps.alerts);
    const receivers = new Map(list.map((r) => [r.id, r]));
    const sups = list.length ? await loadActiveSuppressions() : [];
    const lowest = list.length ? Math.min(...list.map((r) => LEVEL_RANK[r.minLevel])) : Infinity;
    for (const digest of digests) {
      ctx.signal?.throwIfAborted();
      result.digests++;
      const flaggedFindings = pendingFindings.get(digest) ?? [];
      const flaggedImages = pendingImages.get(digest) ?? [];
      const newCves = new Set(flaggedFindings.map((f) => f.cveId));
      const arrived = flaggedImages.filter((i) => i.present !== false);
      if (list.length && (newCves.size || arrived.length)) {
        const images = await ImageModel.find({ digest, present: true }, { repository: 1, image: 1, tag: 1 })
          .limit(MAX_IMAGES)
          .lean<ImageRefDoc[]>();
        const findings = images.length
          ? await FindingModel.find(
              {
                digest,
                fixedAt: null,
                ...(arrived.length ? {} : { cveId: { $in: [...newCves] } }),
              },
              FINDING_FIELDS,
            ).lean<FindingRow[]>()
          : [];
        const suppressed = new Map(images.map((i) => [i, suppressedCves(sups, i)]));
        const relevant = findings.filter((f) => rank(f.level) >= lowest);
        for (const r of list) {
          const watched = images.filter((i) => watches(r, i));
          if (!watched.length) continue;
          const whole = arrived.some((i) => watches(r, i));
          const cves = new Map<string, number>();
          for (const f of relevant) {
            if (!whole && !newCves.has(f.cveId)) continue;
            if (rank(f.level) < LEVEL_RANK[r.minLevel]) continue;
            if (!watched.some((i) => !suppressed.get(i)!.has(f.cveId))) continue;
            cves.set(f.cveId, Math.max(cves.get(f.cveId) ?? 0, rank(f.level)));
          }
          if (!cves.size) continue;
          const ordered = [...cves].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).map(([c]) => c);
          const at = new Date();
          const events: string[] = [];
          const docs: Array<Record<string, unknown>> = [];
          for (let i = 0; i < ordered.length; i += MAX_CVES_PER_EVENT) {
            const eventId = randomUUID();
            events.push(eventId);
            for (const cveId of ordered.slice(i, i + MAX_CVES_PER_EVENT))
              docs.push({
                _id: entryId(r.id, digest, cveId),
                receiver: r.id,
                digest,
                cveId,
                eventId,
                queued: false,
                at,
              });
          }
          ctx.signal?.throwIfAborted();
          // Told already (by an earlier derivation): the duplicate key keeps it from being told again.
          result.entries += await insertManyCapped(AlertEntryModel.collection, docs, { ignoreDuplicates: true });
          for (const eventId of events) if (await queueEvent(eventId, receivers, sups, ctx)) result.deliveries++;
        }
      }
      ctx.signal?.throwIfAborted();
      // Cleared last: a crash before this derives the digest again, which the entries make harmless.
      if (flaggedFindings.length)
        await FindingModel.updateMany(
          { _id: { $in: flaggedFindings.map((f) => f._id) } },
          { $unset: { alertPending: '' } },
        );
      // Only while the image still has this digest: one that moved meanwhile stays flagged for its new one.
      if (flaggedImages.length)
        await ImageModel.updateMany(
          { _id: { $in: flaggedImages.map((i) => i._id) }, digest },
          { $unset: { alertPending: '' } },
        );
    }
  }

  async function derive(ctx: Ctx, only?: readonly string[]): Promise<DeriveResult> {
    const result = empty();
    const scope = only ? { digest: { $in: [...only] } } : {};
    for (;;) {
      ctx.signal?.throwIfAborted();
      const [findings, images] = await Promise.all([
        FindingModel.find({ alertPending: true, ...scope }, { digest: 1, cveId: 1 })
          .limit(ROUND)
          .lean<Array<{ _id: Types.ObjectId; digest: string; cveId: string }>>(),
        ImageModel.find({ alertPending: true, ...scope }, { digest: 1, repository: 1, image: 1, tag: 1, present: 1 })
          .limit(ROUND)
          .lean<ImageRefDoc[]>(),
      ]);
      if (!findings.length && !images.length) return result;
      const byDigestF = new Map<string, Array<{ _id: Types.ObjectId; cveId: string }>>();
      for (const f of findings) byDigestF.set(f.digest, [...(byDigestF.get(f.digest) ?? []), f]);
      const byDigestI = new Map<string, ImageRefDoc[]>();
      for (const i of images) {
        // An image flagged without a digest has nothing to announce; the flag goes with the next digest.
        byDigestI.set(i.digest, [...(byDigestI.get(i.digest) ?? []), i]);
      }
      const digests = [...new Set([...byDigestF.keys(), ...byDigestI.keys()])];
      await deriveDigests(digests, byDigestF, byDigestI, ctx, result);
    }
  }

  async function recover(ctx: Ctx, now = new Date()): Promise<number> {
    const left = await AlertEntryModel.find(
      { queued: false, at: { $lt: new Date(now.getTime() - RECOVER_AFTER_MS) } },
      { eventId: 1 },
    )
      .limit(ROUND * 10)
      .lean<Array<{ _id: string; eventId: string }>>();
    if (!left.length) return 0;
    const list = await loadReceivers(deps.alerts);
    const receivers = new Map(list.map((r) => [r.id, r]));
    const sups = await loadActiveSuppressions();
    let recovered = 0;
    for (const eventId of new Set(left.map((e) => e.eventId))) {
      ctx.signal?.throwIfAborted();
      let id = eventId;
      // Its delivery exists (the crash came after it): these entries were inserted after it was built
      // (a derivation that lost its lease), so they make an event of their own.
      if (await DeliveryModel.exists({ eventId })) {
        id = randomUUID();
        await AlertEntryModel.updateMany({ eventId, queued: false }, { $set: { eventId: id } });
      }
      if (await queueEvent(id, receivers, sups, ctx)) recovered++;
    }
    return recovered;
  }

  return { derive, recover };
}

export interface AlertDeriver {
  start(): void;
  stop(): Promise<void>;
  /** One pass now (recover, then derive everything flagged) under the `alert-derive` lease; null when another holds it. */
  runOnce(now?: Date): Promise<DeriveResult | null>;
}

/**
 * The periodic pass: every 30 s the instance holding the `alert-derive` lease queues what crashed
 * derivations left and derives every flagged finding and image. The scan worker's hint
 * (`newFindings`) derives its digest at once; this pass is what makes a crash harmless.
 */
export function createAlertDeriver(deps: {
  outbox: AlertOutbox;
  logger: Logger;
  instance: string;
  everyMs?: number;
}): AlertDeriver {
  const log = deps.logger.child({ component: 'alert-derive' });
  let periodic: Periodic | null = null;

  async function runOnce(now = new Date()): Promise<DeriveResult | null> {
    const lease = await acquireLease(LEASE, deps.instance, LEASE_MS);
    if (!lease) return null;
    const kept = keepLease(lease, LEASE_MS, log);
    try {
      const ctx: Ctx = { log, signal: kept.signal };
      const recovered = await deps.outbox.recover(ctx, now);
      const result = await deps.outbox.derive(ctx);
      result.recovered = recovered;
      if (result.entries || result.recovered) log.info({ ...result }, 'alerts derived');
      return result;
    } finally {
      await kept.stop();
      await releaseLease(lease).catch(() => undefined);
    }
  }

  return {
    start() {
      if (periodic) return;
      periodic = createPeriodic({
        name: 'alert-derive',
        everyMs: deps.everyMs ?? EVERY_MS,
        firstDelayMs: 1000,
        run: () => runOnce(),
        log,
      });
      periodic.start();
    },
    async stop() {
      const p = periodic;
      periodic = null;
      await p?.stop();
    },
    runOnce,
  };
}
