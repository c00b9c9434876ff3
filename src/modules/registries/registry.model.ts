import mongoose, { Schema, type InferSchemaType } from 'mongoose';

/**
 * One registry the service scans. `key` (`host:port`) identifies it everywhere else; `aliasKey` is
 * the alias or, when there is none, the key: a plain unique index on it keeps aliases unique
 * without a sparse or partial index (FerretDB ignores sparse). Aliases cannot contain ':', so an
 * alias never collides with a key.
 */
const registrySchema = new Schema(
  {
    /** Host name or IP (the seed's field name). */
    repository: { type: String, required: true },
    port: { type: Number, required: true },
    key: { type: String, required: true },
    name: { type: String, default: '' },
    aliasKey: { type: String, required: true },
    kind: { type: String, default: 'registry' },
    username: { type: String, default: '' },
    /** AES-256-GCM box of the password (src/crypto/secret-box.ts); '' when none. */
    passwdEnc: { type: String, default: '' },
    isHttps: { type: Boolean, default: false },
    isAuth: { type: Boolean, default: false },
    skipTlsVerify: { type: Boolean, default: false },
    options: { type: Schema.Types.Mixed, default: () => ({}) },
    /** Cron expression of this registry's scheduled discovery and scan; '' = none. */
    schedule: { type: String, default: '' },
    isConnect: { type: Boolean, default: false },
    connectError: { type: String, default: null },
    lastTestedAt: { type: Date, default: null },
  },
  { timestamps: true, minimize: false },
);

registrySchema.index({ key: 1 }, { unique: true });
registrySchema.index({ aliasKey: 1 }, { unique: true });
registrySchema.index({ repository: 1 });

export type RegistryDoc = InferSchemaType<typeof registrySchema> & { _id: mongoose.Types.ObjectId; __v?: number };

export const RegistryModel = mongoose.model('Registry', registrySchema, 'registries');
