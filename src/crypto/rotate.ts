import type { mongo } from 'mongoose';
import type { Logger } from '../logger';
import type { SecretBox } from './secret-box';

/**
 * Every stored secret sealed with the SecretBox: collection and dotted field paths. A new secret
 * field must be added here, or SECRET_KEY rotation leaves it unreadable (docs/security.md).
 */
export const SEALED_FIELDS: ReadonlyArray<{ collection: string; fields: readonly string[] }> = [
  { collection: 'registries', fields: ['passwdEnc', 'options.token'] },
  { collection: 'alert_webhooks', fields: ['secretEnc'] },
];

export interface RotationReport {
  /** Values re-encrypted with the new key by this run. */
  rotated: number;
  /** Values the new key already opens (an earlier, maybe interrupted, run did them). */
  alreadyNew: number;
  /** Values that changed between the read and the write (the service was running); run again. */
  changedMeanwhile: number;
  /** Values neither key opens: listed by collection, _id and field, never by value. */
  unreadable: Array<{ collection: string; id: string; field: string }>;
}

function at(doc: Record<string, unknown>, path: string): unknown {
  return path.split('.').reduce<unknown>((o, k) => (o && typeof o === 'object' ? (o as never)[k] : undefined), doc);
}

function opens(box: SecretBox, value: string): string | undefined {
  try {
    return box.decrypt(value);
  } catch {
    return undefined;
  }
}

/**
 * Re-encrypts every sealed value from `oldBox` to `newBox`. Idempotent and resumable: a value the new
 * key opens is left alone, so a run stopped half-way is finished by running it again. Each write is
 * conditional on the value read (compare-and-set), so a secret changed meanwhile is never overwritten
 * with an older one. Never throws on a bad value: it is reported in `unreadable`.
 */
export async function rotateSecrets(
  db: mongo.Db,
  oldBox: SecretBox,
  newBox: SecretBox,
  log: Logger,
): Promise<RotationReport> {
  const report: RotationReport = { rotated: 0, alreadyNew: 0, changedMeanwhile: 0, unreadable: [] };
  for (const { collection, fields } of SEALED_FIELDS) {
    const col = db.collection(collection);
    const projection = Object.fromEntries(fields.map((f) => [f, 1]));
    for await (const doc of col.find({}, { projection })) {
      for (const field of fields) {
        const value = at(doc, field);
        if (typeof value !== 'string' || !value) continue;
        if (opens(newBox, value) !== undefined) {
          report.alreadyNew++;
          continue;
        }
        const plain = opens(oldBox, value);
        if (plain === undefined) {
          report.unreadable.push({ collection, id: String(doc._id), field });
          continue;
        }
        const res = await col.updateOne({ _id: doc._id, [field]: value }, { $set: { [field]: newBox.encrypt(plain) } });
        if (res.modifiedCount === 1) report.rotated++;
        else report.changedMeanwhile++;
      }
    }
    log.info({ collection }, 'sealed secrets of the collection rotated');
  }
  return report;
}
