import { EXPORT_COLUMNS, type ExportRow } from './vulnerabilities.schemas';

/**
 * One CSV field (RFC 4180): quoted when it holds a comma, quote, CR or LF, quotes doubled.
 * A field starting with = + - @ (or tab/CR, which some spreadsheets strip first) gets a leading
 * apostrophe so that a spreadsheet shows it as text instead of running it as a formula (OWASP
 * "CSV injection"); descriptions come from third parties and are untrusted.
 */
export function csvField(value: string): string {
  let v = value;
  if (/^[=+\-@\t\r]/.test(v)) v = `'${v}`;
  return /[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

export const csvHeader = (): string => `${EXPORT_COLUMNS.join(',')}\r\n`;

export const csvLine = (row: ExportRow): string => `${EXPORT_COLUMNS.map((c) => csvField(row[c])).join(',')}\r\n`;

/** Groups rows into chunks of about 64 KB: fewer writes, and backpressure still applies per chunk. */
export async function* serialise(
  rows: AsyncIterable<ExportRow>,
  format: 'csv' | 'json',
): AsyncGenerator<string, void, undefined> {
  const LIMIT = 64 * 1024;
  let buf = format === 'csv' ? csvHeader() : '[';
  let first = true;
  for await (const row of rows) {
    if (format === 'csv') buf += csvLine(row);
    else {
      buf += `${first ? '\n' : ',\n'}${JSON.stringify(row)}`;
      first = false;
    }
    if (buf.length >= LIMIT) {
      yield buf;
      buf = '';
    }
  }
  // The closing bracket comes last: a JSON export cut short never parses.
  if (format === 'json') buf += first ? ']\n' : '\n]\n';
  if (buf) yield buf;
}
