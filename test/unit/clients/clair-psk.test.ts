import { createHmac, timingSafeEqual } from 'node:crypto';
import { signClairJwt } from '../../../src/clients/clair/clair-psk';

describe('signClairJwt', () => {
  const key = Buffer.from('a shared secret of 32 bytes!!!!!').toString('base64');

  it('When a token is signed, then it is HS256 over header.payload with the base64-decoded key', () => {
    const now = Date.UTC(2026, 10, 25, 0, 0, 0);
    const token = signClairJwt({ key, issuer: 'vulnscan' }, now);

    const [h, p, s] = token.split('.');
    const expected = createHmac('sha256', Buffer.from(key, 'base64')).update(`${h}.${p}`).digest();
    expect(timingSafeEqual(Buffer.from(s!, 'base64url'), expected)).toBe(true);
    expect(JSON.parse(Buffer.from(h!, 'base64url').toString())).toEqual({ alg: 'HS256', typ: 'JWT' });
    const secs = now / 1000;
    expect(JSON.parse(Buffer.from(p!, 'base64url').toString())).toEqual({
      iss: 'vulnscan',
      iat: secs,
      nbf: secs - 60,
      exp: secs + 60,
    });
  });

  it('When the key differs, then the signature differs (the raw base64 text is not the key)', () => {
    const now = 1_700_000_000_000;
    const a = signClairJwt({ key, issuer: 'x' }, now).split('.')[2];
    const [h, p] = signClairJwt({ key, issuer: 'x' }, now).split('.');
    const withText = createHmac('sha256', key).update(`${h}.${p}`).digest('base64url');
    expect(a).not.toBe(withText);
  });
});
