import pino, { type DestinationStream, type Logger } from 'pino';

/**
 * Paths pino blanks out wherever they appear in a log object: credentials of registries, tokens
 * and Authorization headers (incoming and outgoing). Keys are matched at these depths.
 */
export const REDACT_PATHS = [
  'passwd',
  'password',
  'token',
  'secret',
  'authorization',
  'Authorization',
  '*.passwd',
  '*.password',
  '*.passwdEnc',
  '*.token',
  '*.secret',
  '*.authorization',
  '*.Authorization',
  '*.*.passwd',
  '*.*.password',
  '*.*.authorization',
  '*.*.Authorization',
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-auth-token"]',
  'res.headers["set-cookie"]',
  'headers.authorization',
  'headers.Authorization',
  'config.headers.Authorization',
  'config.auth',
  // Registry client targets and outbound request headers.
  'credentials',
  '*.credentials',
  '*.*.credentials',
  '*.headers.authorization',
  '*.headers.Authorization',
  'passwdEnc',
];

export type { Logger };

/** Creates the root logger. `destination` lets tests capture the output. */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination,
  );
}
