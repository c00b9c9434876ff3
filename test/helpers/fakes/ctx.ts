import pino from 'pino';
import type { Ctx } from '../../../src/http/context';

/** A silent request context for client tests. */
export function testCtx(): Ctx {
  return { log: pino({ level: 'silent' }), requestId: 'test-request' };
}
