import { isIP } from 'node:net';
import { z } from 'zod';
import { ObjectIdString } from '../../http/schemas';
import { RegistryKind } from '../../clients/registry/vendors';

const HOSTNAME =
  /^(?=.{1,253}$)(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

/** True for a host name (RFC 1123 labels) or an IPv4/IPv6 address. */
export function isHostOrIp(v: string): boolean {
  return isIP(v) !== 0 || HOSTNAME.test(v);
}

// The console has sent booleans as strings; accept exactly "true"/"false" too.
const Bool = z.preprocess(
  (v) => (v === 'true' ? true : v === 'false' ? false : v),
  z.boolean({ error: 'must be true or false' }),
);

const Host = z
  .string({ error: 'must be a string' })
  .trim()
  .refine(isHostOrIp, 'must be a host name or IP address, without scheme, port or path');

const Port = z.preprocess(
  (v) => (typeof v === 'string' && /^\d{1,5}$/.test(v) ? Number(v) : v),
  z
    .number({ error: 'must be a number' })
    .int('must be an integer')
    .min(1, 'must be between 1 and 65535')
    .max(65535, 'must be between 1 and 65535'),
);

const Alias = z
  .string({ error: 'must be a string' })
  .trim()
  .max(64, 'must be at most 64 characters')
  .regex(/^[A-Za-z0-9._-]*$/, 'may hold only letters, digits, ".", "_" and "-"');

/** True when some key at any depth starts with '$' or holds '.', which MongoDB would read as an operator or path. */
function hasOperatorKeys(v: unknown): boolean {
  if (Array.isArray(v)) return v.some(hasOperatorKeys);
  if (v && typeof v === 'object')
    return Object.entries(v).some(([k, x]) => k.startsWith('$') || k.includes('.') || hasOperatorKeys(x));
  return false;
}

const Options = z
  .record(z.string(), z.unknown())
  .refine((o) => !hasOperatorKeys(o), 'keys may not start with "$" or contain "."')
  .refine((o) => JSON.stringify(o).length <= 16_384, 'must be at most 16 KB');

const fields = {
  repository: Host,
  port: Port,
  name: Alias.optional(),
  username: z.string({ error: 'must be a string' }).max(256, 'must be at most 256 characters').optional(),
  passwd: z.string({ error: 'must be a string' }).max(1024, 'must be at most 1024 characters').optional(),
  isHttps: Bool.optional(),
  isAuth: Bool.optional(),
  /** Set by the server from the last connection test; a client-sent value is accepted and ignored. */
  isConnect: Bool.optional(),
  skipTlsVerify: Bool.optional(),
  kind: z.enum(RegistryKind.options, { error: `must be one of ${RegistryKind.options.join(', ')}` }).optional(),
  options: Options.optional(),
  /** Cron expression (5 or 6 fields) of a scheduled discovery + scan; "" for none. Checked by the service. */
  schedule: z.string({ error: 'must be a string' }).trim().max(100, 'must be at most 100 characters').optional(),
};

/** POST /api/repository body (the seed's fields plus skipTlsVerify, kind, options). Unknown keys are refused. */
export const CreateRegistry = z
  .object(fields)
  .strict()
  .meta({
    id: 'CreateRegistry',
    example: {
      name: 'test',
      repository: '192.168.10.118',
      port: 5000,
      isHttps: false,
      isAuth: true,
      username: 'abc',
      passwd: 'abc123',
    },
  });
export type CreateRegistry = z.infer<typeof CreateRegistry>;

/** PUT /api/repository body: found by `_id` when given, else by `repository` + `port`. */
export const UpdateRegistry = z
  .object({
    ...fields,
    _id: ObjectIdString.optional(),
    repository: Host.optional(),
    port: Port.optional(),
    // Read-only fields of a reply, accepted and ignored so a console can send back what it read.
    __v: z.number().optional(),
    key: z.string().max(300).optional(),
    connectError: z.string().max(2000).nullable().optional(),
    lastTestedAt: z.string().max(64).nullable().optional(),
    createdAt: z.string().max(64).optional(),
    updatedAt: z.string().max(64).optional(),
  })
  .strict()
  .refine((b) => b._id !== undefined || (b.repository !== undefined && b.port !== undefined), {
    message: 'give _id, or repository and port, to say which registry to update',
  })
  .meta({
    id: 'UpdateRegistry',
    example: { repository: '192.168.10.118', port: 5000, name: 'prod', passwd: '******' },
  });
export type UpdateRegistry = z.infer<typeof UpdateRegistry>;

/** `?repository=`: the key `host:port`, the alias, or a bare host. */
export const RegistryQuery = z
  .object({
    repository: z
      .string({ error: 'is required (the key host:port, the alias, or the host)' })
      .trim()
      .min(1, 'is required (the key host:port, the alias, or the host)')
      .max(300, 'is too long'),
  })
  .meta({ id: 'RegistryQuery' });
export type RegistryQuery = z.infer<typeof RegistryQuery>;

/** A registry as every reply shows it: the seed's fields, the key, and the last connection test. */
export const RegistryView = z
  .object({
    _id: z.string(),
    __v: z.number().optional(),
    key: z.string().meta({ example: '192.168.10.118:5000' }),
    name: z.string().meta({ example: 'test' }),
    repository: z.string().meta({ example: '192.168.10.118' }),
    port: z.number().int(),
    username: z.string(),
    passwd: z.string().meta({ description: '"******" when a password is stored, "" when none; never the password' }),
    isHttps: z.boolean(),
    isAuth: z.boolean(),
    isConnect: z.boolean(),
    connectError: z.string().nullable(),
    lastTestedAt: z.string().nullable(),
    skipTlsVerify: z.boolean(),
    kind: z.string(),
    options: z.record(z.string(), z.unknown()),
    schedule: z
      .string()
      .meta({ description: 'cron expression of the scheduled scan, "" when none', example: '0 3 * * *' }),
    createdAt: z.string().optional(),
    updatedAt: z.string().optional(),
  })
  .meta({ id: 'Registry' });
export type RegistryView = z.infer<typeof RegistryView>;
