import { execFile } from 'node:child_process';
import path from 'node:path';
import mongoose from 'mongoose';
import request from 'supertest';
import { SEALED_FIELDS, rotateSecrets } from '../../src/crypto/rotate';
import { createSecretBox, deriveKey } from '../../src/crypto/secret-box';
import { createLogger } from '../../src/logger';
import { buildTestApp, TEST_SECRET_KEY } from '../helpers/app';
import { freePort } from '../helpers/registry-process';
import { useTestDb } from '../helpers/test-db';

const db = useTestDb();

/** SECRET_KEY rotation on the real database: values sealed through the API, re-encrypted, read back. */
const OLD_KEY = TEST_SECRET_KEY.toString('base64');
const NEW_KEY = Buffer.alloc(32, 9).toString('base64');
const oldBox = createSecretBox(deriveKey(OLD_KEY));
const newBox = createSecretBox(deriveKey(NEW_KEY));
const silent = createLogger('silent');
const raw = (collection: string) => mongoose.connection.db!.collection(collection);

/** A Basic registry, an SWR registry (password and token) and a signed alert receiver, all sealed with OLD_KEY. */
async function seed() {
  const { app } = buildTestApp({ REGISTRY_TEST_TIMEOUT_MS: '500' });
  const port = await freePort();
  const basic = { repository: '127.0.0.1', port, isAuth: true, username: 'u', passwd: 'pw-basic' };
  expect((await request(app).post('/api/repository').send(basic)).body.code).toBe(0);
  const swr = {
    repository: '127.0.0.2',
    port,
    isAuth: true,
    username: 'u',
    passwd: 'pw-swr',
    kind: 'swr',
    options: { apiUrl: `http://127.0.0.1:${port}`, namespace: 'team', token: 'swr-token' },
  };
  expect((await request(app).post('/api/repository').send(swr)).body.code).toBe(0);
  const hook = { url: `http://127.0.0.1:${port}/hook`, secret: 'receiver-secret-0123456789' };
  expect((await request(app).post('/api/alerts/webhooks').send(hook)).body.code).toBe(0);
}

/** Every sealed value, opened with `box` (undefined where it does not open). */
async function openAll(box: typeof newBox): Promise<Array<string | undefined>> {
  const out: Array<string | undefined> = [];
  for (const { collection, fields } of SEALED_FIELDS) {
    for (const doc of await raw(collection).find({}).sort({ createdAt: 1 }).toArray()) {
      for (const f of fields) {
        const v = f.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k], doc);
        if (typeof v !== 'string' || !v) continue;
        try {
          out.push(box.decrypt(v));
        } catch {
          out.push(undefined);
        }
      }
    }
  }
  return out;
}

const PLAIN = ['pw-basic', 'pw-swr', 'swr-token', 'receiver-secret-0123456789'];

describe('rotateSecrets', () => {
  it('When a run was interrupted after one value, then the next run rotates the rest, and a third changes nothing', async () => {
    await seed();
    expect(await openAll(oldBox)).toEqual(PLAIN);
    // The interrupted run had re-sealed the first registry's password already.
    const first = await raw('registries').findOne({ key: /^127\.0\.0\.1:/ });
    await raw('registries').updateOne({ _id: first!._id }, { $set: { passwdEnc: newBox.encrypt('pw-basic') } });

    const report = await rotateSecrets(mongoose.connection.db!, oldBox, newBox, silent);

    expect(report).toEqual({ rotated: 3, alreadyNew: 1, changedMeanwhile: 0, unreadable: [] });
    expect(await openAll(newBox)).toEqual(PLAIN);
    expect(await openAll(oldBox)).toEqual([undefined, undefined, undefined, undefined]);
    const again = await rotateSecrets(mongoose.connection.db!, oldBox, newBox, silent);
    expect(again).toEqual({ rotated: 0, alreadyNew: 4, changedMeanwhile: 0, unreadable: [] });
  });

  it('When a value opens with neither key, then it is reported by collection, id and field, and the others are rotated', async () => {
    await seed();
    const stranger = createSecretBox(Buffer.alloc(32, 1));
    const hook = await raw('alert_webhooks').findOne({});
    await raw('alert_webhooks').updateOne({ _id: hook!._id }, { $set: { secretEnc: stranger.encrypt('x') } });

    const report = await rotateSecrets(mongoose.connection.db!, oldBox, newBox, silent);

    expect(report.rotated).toBe(3);
    expect(report.unreadable).toEqual([{ collection: 'alert_webhooks', id: String(hook!._id), field: 'secretEnc' }]);
  });
});

describe('npm run rotate-secret-key', () => {
  const script = path.join(__dirname, '..', '..', 'scripts', 'rotate-secret-key.ts');
  const tsx = path.join(__dirname, '..', '..', 'node_modules', '.bin', 'tsx');

  function run(env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
    const uri = new URL(process.env.MONGO_TEST_URI!);
    uri.pathname = `/${db.dbName}`;
    return new Promise((resolve) => {
      execFile(
        tsx,
        [script],
        { env: { PATH: process.env.PATH, MONGODB_URI: uri.toString(), ...env }, timeout: 60_000 },
        (err, stdout, stderr) => resolve({ code: err ? Number(err.code ?? 1) : 0, stdout, stderr }),
      );
    });
  }

  it('When run against the database with OLD and NEW keys, then every secret opens with the new key, and a second run exits 0 too', async () => {
    await seed();

    const first = await run({ OLD_SECRET_KEY: OLD_KEY, NEW_SECRET_KEY: NEW_KEY });

    expect(first.code).toBe(0);
    expect(first.stdout).toContain('"rotated":4');
    expect(await openAll(newBox)).toEqual(PLAIN);
    const second = await run({ SECRET_KEY: OLD_KEY, NEW_SECRET_KEY: NEW_KEY });
    expect(second.code).toBe(0);
    expect(second.stdout).toContain('"alreadyNew":4');
    for (const p of PLAIN) expect(first.stdout + second.stdout).not.toContain(p);
  });

  it('When NEW_SECRET_KEY is missing or equals the current key, then it exits 2 naming the key and changes nothing', async () => {
    await seed();
    const missing = await run({ OLD_SECRET_KEY: OLD_KEY });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/NEW_SECRET_KEY/);
    const same = await run({ OLD_SECRET_KEY: OLD_KEY, NEW_SECRET_KEY: OLD_KEY });
    expect(same.code).toBe(2);
    expect(same.stderr).toMatch(/NEW_SECRET_KEY: is the key in use now/);
    expect(await openAll(oldBox)).toEqual(PLAIN);
  });
});
