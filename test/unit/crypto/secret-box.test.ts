import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createSecretBox, deriveKey, secretBoxFromConfig } from '../../../src/crypto/secret-box';
import { createLogger } from '../../../src/logger';
import { LogCapture } from '../../helpers/app';

describe('secret box', () => {
  const box = createSecretBox(Buffer.alloc(32, 1));

  it('When a secret is boxed, then the versioned value hides it and opens to it again, with a new IV each time', () => {
    const a = box.encrypt('hunter2');
    const b = box.encrypt('hunter2');
    expect(a).toMatch(/^v1:[^:]+:[^:]+:[^:]+$/);
    expect(a).not.toContain('hunter2');
    expect(a).not.toBe(b);
    expect(box.decrypt(a)).toBe('hunter2');
  });

  it('When the value is tampered with or opened with another key, then decrypt throws', () => {
    const v = box.encrypt('hunter2');
    const parts = v.split(':');
    const ct = Buffer.from(parts[3], 'base64');
    ct[0] ^= 1;
    expect(() => box.decrypt([...parts.slice(0, 3), ct.toString('base64')].join(':'))).toThrow();
    expect(() => createSecretBox(Buffer.alloc(32, 2)).decrypt(v)).toThrow();
    expect(() => box.decrypt('v0:a:b:c')).toThrow(/unsupported/);
  });

  it('When the key decodes to 32 bytes, then it is used as is; otherwise sha256 makes 32 bytes', () => {
    const raw = Buffer.alloc(32, 9);
    expect(deriveKey(raw.toString('base64'))).toEqual(raw);
    expect(deriveKey('x'.repeat(40))).toHaveLength(32);
  });

  it('When SECRET_KEY is unset, then a key is generated under DATA_DIR with mode 0600, reused later, with a warning', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'vulnscan-key-'));
    const logs = new LogCapture();
    const log = createLogger('warn', logs);
    const first = secretBoxFromConfig({ secretKey: undefined, dataDir: dir }, log);
    const file = path.join(dir, 'secret.key');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const boxed = first.encrypt('p');
    const again = secretBoxFromConfig({ secretKey: undefined, dataDir: dir }, log);
    expect(again.decrypt(boxed)).toBe('p');
    expect(logs.text).toMatch(/SECRET_KEY is not set/);
    expect(logs.text).not.toContain(readFileSync(file, 'utf8').trim());
  });
});
