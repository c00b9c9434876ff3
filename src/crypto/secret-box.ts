import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from '../logger';

/** Encrypts and decrypts short secrets (registry passwords) at rest. */
export interface SecretBox {
  encrypt(plain: string): string;
  /** Throws when the value was not made with this key or was tampered with. */
  decrypt(boxed: string): string;
}

const VERSION = 'v1';

/** Turns a configured key into 32 bytes: its base64 decoding when that is 32 bytes, else sha256 of the text. */
export function deriveKey(secretKey: string): Buffer {
  const decoded = Buffer.from(secretKey.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
  return decoded.length === 32 ? decoded : createHash('sha256').update(secretKey).digest();
}

/** AES-256-GCM with a random 12-byte IV per value, stored as `v1:<iv>:<tag>:<ciphertext>` (base64 parts). */
export function createSecretBox(key: Buffer): SecretBox {
  if (key.length !== 32) throw new Error('secret box key must be 32 bytes');
  return {
    encrypt(plain) {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      const ct = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
      const tag = cipher.getAuthTag();
      return [VERSION, iv.toString('base64'), tag.toString('base64'), ct.toString('base64')].join(':');
    },
    decrypt(boxed) {
      const [version, iv, tag, ct] = boxed.split(':');
      if (version !== VERSION || iv === undefined || tag === undefined || ct === undefined) {
        throw new Error('unsupported secret format');
      }
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64'));
      decipher.setAuthTag(Buffer.from(tag, 'base64'));
      return Buffer.concat([decipher.update(Buffer.from(ct, 'base64')), decipher.final()]).toString('utf8');
    },
  };
}

/**
 * The box for the configured SECRET_KEY; when none is set, a key generated once under
 * `dataDir/secret.key` (mode 0600) and reused on later starts, with a warning each start.
 */
export function secretBoxFromConfig(opts: { secretKey: string | undefined; dataDir: string }, log: Logger): SecretBox {
  if (opts.secretKey) return createSecretBox(deriveKey(opts.secretKey));
  const file = path.resolve(opts.dataDir, 'secret.key');
  if (existsSync(file)) {
    log.warn({ file }, 'SECRET_KEY is not set: using the generated key in DATA_DIR; set SECRET_KEY in production');
    return createSecretBox(deriveKey(readFileSync(file, 'utf8').trim()));
  }
  mkdirSync(path.dirname(file), { recursive: true });
  const generated = randomBytes(32).toString('base64');
  writeFileSync(file, `${generated}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  log.warn(
    { file },
    'SECRET_KEY is not set: generated a key for registry passwords in DATA_DIR; back it up or set SECRET_KEY',
  );
  return createSecretBox(deriveKey(generated));
}
