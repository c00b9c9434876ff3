import { createLogger } from '../../src/logger';
import { LogCapture } from '../helpers/app';

describe('logger redaction', () => {
  it('When credentials or Authorization headers are logged at any usual depth, then they are redacted', () => {
    const logs = new LogCapture();
    const log = createLogger('info', logs);
    log.info({ passwd: 'p1', target: { credentials: { username: 'u', password: 'p2' } } }, 'a');
    log.info({ call: { headers: { Authorization: 'Bearer tok3' } }, registry: { passwdEnc: 'v1:enc4' } }, 'b');
    for (const secret of ['p1', 'p2', 'tok3', 'enc4']) expect(logs.text).not.toContain(secret);
    expect(logs.text).toContain('[redacted]');
  });
});
