import 'dotenv/config';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import mongoose from 'mongoose';
import { ConfigError, loadRotationConfig } from '../src/config';
import { rotateSecrets } from '../src/crypto/rotate';
import { createSecretBox, deriveKey } from '../src/crypto/secret-box';
import { startEmbeddedMongo, type EmbeddedMongo } from '../src/db/embedded';
import { connectMongo, disconnectMongo } from '../src/db/mongo';
import { createLogger } from '../src/logger';

/**
 * `npm run rotate-secret-key`: re-encrypts every stored secret (registry passwords, SWR tokens, alert
 * receiver secrets) from the current key to NEW_SECRET_KEY. The current key is OLD_SECRET_KEY, else
 * SECRET_KEY, else the generated DATA_DIR/secret.key. Stop the service first (it could not open the
 * re-encrypted values), run this, then start it with SECRET_KEY set to the new key. Running it again is
 * safe: values already under the new key are skipped, so an interrupted run is finished by another.
 * Exit code 0 when every value is under the new key, 1 when some could not be opened, 2 on bad configuration.
 */
async function main(): Promise<number> {
  const log = createLogger('info');
  let config;
  try {
    config = loadRotationConfig(process.env);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    process.stderr.write(`${e.message}\n`);
    return 2;
  }
  let oldKey = config.oldKey;
  if (!oldKey) {
    const file = path.resolve(config.dataDir, 'secret.key');
    if (!existsSync(file)) {
      process.stderr.write('no current key: set OLD_SECRET_KEY (or SECRET_KEY), or DATA_DIR holding secret.key\n');
      return 2;
    }
    oldKey = readFileSync(file, 'utf8').trim();
    log.info({ file }, 'current key read from DATA_DIR');
  }
  let embedded: EmbeddedMongo | undefined;
  let uri = config.mongo.uri;
  if (!uri) {
    embedded = await startEmbeddedMongo({
      dataDir: path.resolve(config.dataDir),
      port: config.mongo.embeddedPort,
      log,
      ferretdbBinary: config.mongo.ferretdbBinary,
    });
    uri = embedded.uri;
  }
  try {
    await connectMongo(uri, log, { dbName: embedded ? 'vulnscan' : undefined });
    const report = await rotateSecrets(
      mongoose.connection.db!,
      createSecretBox(deriveKey(oldKey)),
      createSecretBox(deriveKey(config.newKey)),
      log,
    );
    const done = report.unreadable.length === 0 && report.changedMeanwhile === 0;
    log[done ? 'info' : 'error'](
      { ...report },
      done
        ? 'every stored secret is sealed with NEW_SECRET_KEY: start the service with SECRET_KEY set to it'
        : 'some secrets were not rotated: run again (changedMeanwhile), or set them again through the API (unreadable)',
    );
    return done ? 0 : 1;
  } finally {
    await disconnectMongo();
    await embedded?.stop();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`rotate-secret-key failed: ${(err as Error).message}\n`);
    process.exit(1);
  },
);
