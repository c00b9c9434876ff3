import { randomBytes } from 'node:crypto';
import { createClairClient } from '../../src/clients/clair';
import { ScannerError } from '../../src/errors/app-error';
import { createLogger } from '../../src/logger';
import { startClair, type ClairProcess } from '../helpers/clair-process';

const ctx = { log: createLogger('silent') };
const key = randomBytes(32).toString('base64');

// Needs a Clair with auth.psk, so it starts its own; only possible when this run started Clair itself.
const describeLocal = process.env.CLAIR_TEST_LOCAL === '1' ? describe : describe.skip;

describeLocal('Clair v4 client against a real Clair with PSK authentication', () => {
  let clair: ClairProcess;
  const client = (psk?: { key: string; issuer: string }) =>
    createClairClient({ version: 'v4', baseUrl: clair.url, timeoutMs: 5000, indexTimeoutMs: 5000, psk });

  beforeAll(async () => {
    clair = await startClair({ psk: { key, issuers: ['vulnscan'] } });
  });
  afterAll(async () => {
    await clair?.stop();
  });

  it('When the key and issuer match, then Clair accepts the signed requests', async () => {
    expect(await client({ key, issuer: 'vulnscan' }).indexState!(ctx)).toMatch(/^\S+$/);
  });

  it.each([
    ['no PSK is sent', undefined, /requires PSK authentication — set CLAIR_PSK and CLAIR_PSK_ISSUER$/],
    ['the key is wrong', { key: randomBytes(32).toString('base64'), issuer: 'vulnscan' }, /check CLAIR_PSK/],
    ['the issuer is not allowed', { key, issuer: 'someone-else' }, /check CLAIR_PSK and CLAIR_PSK_ISSUER/],
  ])('When %s, then the error is a 5001 explaining the 401', async (_case, psk, message) => {
    const err = await client(psk).indexState!(ctx).catch((e: unknown) => e);

    expect(err).toBeInstanceOf(ScannerError);
    expect((err as ScannerError).message).toMatch(/refused the request \(401 Unauthorized\)/);
    expect((err as ScannerError).message).toMatch(message);
  });
});
