import i18next from 'i18next';

const locale = () => (i18next.language === 'zh' ? 'zh-CN' : 'en');

export function fmtDate(iso: string | null | undefined): string {
  if (!iso) return '—';
  return new Date(iso).toLocaleString(locale(), { dateStyle: 'medium', timeStyle: 'short' });
}
export function fmtScore(s: number | null | undefined): string {
  return s === null || s === undefined ? '—' : s.toFixed(4);
}
export function fmtNumber(n: number): string {
  return n.toLocaleString(locale());
}
export function fmtDuration(seconds: number | null): string {
  if (seconds === null) return '—';
  const s = Math.round(seconds);
  if (s < 60) return i18next.t('time.seconds', { n: s });
  if (s < 3600) return i18next.t('time.minutes', { n: Math.round(s / 60) });
  return i18next.t('time.hours', { n: (s / 3600).toFixed(1) });
}
