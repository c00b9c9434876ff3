import type { TFunction } from 'i18next';
import { ApiError } from './api';

type Rule = [RegExp, (t: TFunction, m: RegExpMatchArray) => string];

/**
 * The API's 5003 `data` is "path: reason; path: reason" in English. Each known reason is translated
 * (and each known field named in the user's language); an unknown one is shown as sent.
 */
const REASONS: Rule[] = [
  [/^must be between (\S+) and (\S+)$/, (t, m) => t('validation.between', { min: m[1], max: m[2] })],
  [/^must be a number$/, (t) => t('validation.number')],
  [/^must be an integer$/, (t) => t('validation.integer')],
  [/^must be a finite number$/, (t) => t('validation.number')],
  [/^must not be empty$/, (t) => t('validation.empty')],
  [/^must be at most (\d+) characters$/, (t, m) => t('validation.maxChars', { n: m[1] })],
  [/^must be at least (\d+) characters$/, (t, m) => t('validation.minChars', { n: m[1] })],
  [/^must be true or false$/, (t) => t('validation.bool')],
  [/^must be a string$/, (t) => t('validation.string')],
  [/^must be 0 or more$/, (t) => t('validation.nonNegative')],
  [
    /^is required for scope "(\w+)"$/,
    (t, m) => t('validation.requiredForScope', { scope: t(`scope.${m[1] as 'global'}`) }),
  ],
  [
    /^must not be set for scope "(\w+)"$/,
    (t, m) => t('validation.forbiddenForScope', { scope: t(`scope.${m[1] as 'global'}`) }),
  ],
  [/^is required when isAuth is true$/, (t) => t('validation.requiredWithAuth')],
  [/^is required\b.*$/, (t) => t('validation.required')],
  [/^must be a host name or IP address/, (t) => t('validation.host')],
  [/^must be an http or https URL$/, (t) => t('validation.url')],
  [/^must be one of (.*)$/, (t, m) => t('validation.oneOf', { list: m[1] })],
  [/^unknown fields? (.*)$/, (t, m) => t('validation.unknownField', { list: m[1] })],
  [/^must be a CVE id/, (t) => t('validation.cveId')],
  [/^must be a vulnerability id/, (t) => t('validation.cveId')],
  [/^must be an ISO 8601 date-time/, (t) => t('validation.dateTime')],
  [/^must be in the future$/, (t) => t('validation.future')],
  [/^may hold only letters, digits/, (t) => t('validation.alias')],
  [/^must be a repository name/, (t) => t('validation.imageName')],
  [/^must be a tag/, (t) => t('validation.tag')],
  [/^invalid JSON$/, (t) => t('validation.json')],
  [/^at least one weight must be greater than 0$/, (t) => t('validation.weightPositive')],
  [/^"[^"]*" (is not a valid cron expression.*|.*cron.*)$/i, (t) => t('validation.cron')],
];

const FIELDS = [
  'repository',
  'port',
  'name',
  'username',
  'passwd',
  'schedule',
  'kind',
  'options',
  'cveId',
  'scope',
  'image',
  'tag',
  'reason',
  'author',
  'expiresAt',
  'url',
  'minLevel',
  'secret',
  'cron',
  'critical',
  'high',
  'medium',
  'low',
  'negligible',
  'unknown',
] as const;

function translateReason(t: TFunction, part: string): string {
  const m = /^(body|query|params)(?:\.([\w.]+))?: (.*)$/.exec(part.trim());
  if (!m) return part;
  const [, , path, reason] = m;
  const last = path?.split('.').pop();
  const field =
    last && (FIELDS as readonly string[]).includes(last) ? t(`field.${last as (typeof FIELDS)[number]}`) : (path ?? '');
  for (const [re, fn] of REASONS) {
    const r = re.exec(reason!);
    if (r) return field ? `${field}: ${fn(t, r)}` : fn(t, r);
  }
  return part;
}

export interface ShownError {
  title: string;
  detail: string;
  /** The API's own text, when the detail is a translation of it. */
  original: string | null;
}

/** An API error as the user reads it: the code's name and the reason, in the user's language where known. */
export function showError(t: TFunction, e: unknown): ShownError {
  if (!(e instanceof ApiError)) return { title: t('error.e5000'), detail: String(e), original: null };
  const raw = typeof e.data === 'string' ? e.data : e.data === null ? '' : JSON.stringify(e.data);
  const known = [0, 5000, 5001, 5002, 5003, 5004, 5005, 5006, 5007].includes(e.code);
  const title = known ? t(`error.e${e.code as 5000}`) : `${e.apiMessage} (${e.code})`;
  if (e.status === 403) return { title: t('error.readOnly'), detail: raw, original: null };
  if (e.code === 5003) {
    const detail = raw
      .split('; ')
      .map((p) => translateReason(t, p))
      .join('；');
    return { title, detail, original: detail === raw ? null : raw };
  }
  return { title, detail: raw, original: null };
}
