import { useEffect, useId, useRef, useState, type FormEvent, type ReactNode } from 'react';
import { useTranslation } from 'react-i18next';
import { LEVELS, type Counts, type Image, type Level, type LevelName, type Sort } from '../api';
import { showError } from '../errors';
import { fmtNumber } from '../format';

/** An API error, in the user's language, with the API's own text when it was translated. */
export function ErrorBox({ error }: { error: unknown }) {
  const { t } = useTranslation();
  if (!error) return null;
  const e = showError(t, error);
  return (
    <div role="alert" className="error">
      <strong>{e.title}</strong>
      {e.detail && <span className="error-detail">{e.detail}</span>}
      {e.original && (
        <details>
          <summary>{t('error.original')}</summary>
          <code>{e.original}</code>
        </details>
      )}
    </div>
  );
}

export function Loading() {
  const { t } = useTranslation();
  return (
    <p className="muted" role="status">
      {t('common.loading')}
    </p>
  );
}

export function LevelBadge({ level, count }: { level: Level | LevelName; count?: number }) {
  const { t } = useTranslation();
  const l = level.toLowerCase() as Level;
  return (
    <span className={`badge lv-${l}`} title={t(`level.${l}`)}>
      {count === undefined ? (
        t(`level.${l}`)
      ) : (
        <>
          {fmtNumber(count)}
          <span className="sr-only"> {t(`level.${l}`)}</span>
        </>
      )}
    </span>
  );
}

/** One coloured badge per level; zero counts are dimmed. */
export function LevelBadges({ counts }: { counts: Counts }) {
  return (
    <span className="badges">
      {LEVELS.map((l) => (
        <span key={l} className={counts[l] ? '' : 'zero'}>
          <LevelBadge level={l} count={counts[l]} />
        </span>
      ))}
    </span>
  );
}

export function ScanState({ image }: { image: Pick<Image, 'scanStatus' | 'scanError'> }) {
  const { t } = useTranslation();
  return (
    <span className={`state st-${image.scanStatus}`}>
      {t(`scanStatus.${image.scanStatus}`)}
      {image.scanStatus === 'failed' && image.scanError && <span className="state-why">: {image.scanError}</span>}
    </span>
  );
}

/** A sortable column header: a button, with aria-sort on the header cell. */
export function SortTh<F extends string>({
  field,
  sort,
  onSort,
  children,
}: {
  field: F;
  sort: Sort<F>;
  onSort: (s: Sort<F>) => void;
  children: ReactNode;
}) {
  const active = sort.field === field;
  return (
    <th aria-sort={active ? (sort.order === 'asc' ? 'ascending' : 'descending') : 'none'} scope="col">
      <button
        type="button"
        className="sort"
        data-sort={field}
        onClick={() => onSort({ field, order: active && sort.order === 'desc' ? 'asc' : 'desc' })}
      >
        {children}
        <span aria-hidden="true">{active ? (sort.order === 'asc' ? ' ▲' : ' ▼') : ' ↕'}</span>
      </button>
    </th>
  );
}

/** Server-side paging: previous/next, page size, "a–b of n". */
export function Pager({
  from,
  size,
  count,
  onChange,
}: {
  from: number;
  size: number;
  count: number;
  onChange: (from: number, size: number) => void;
}) {
  const { t } = useTranslation();
  const id = useId();
  const last = Math.min(from + size, count);
  return (
    <nav className="pager" aria-label={t('pager.label')}>
      <button type="button" disabled={from === 0} onClick={() => onChange(Math.max(0, from - size), size)}>
        {t('pager.prev')}
      </button>
      <span role="status">
        {count === 0
          ? t('pager.empty')
          : t('pager.range', { a: fmtNumber(from + 1), b: fmtNumber(last), n: fmtNumber(count) })}
      </span>
      <button type="button" disabled={last >= count} onClick={() => onChange(from + size, size)}>
        {t('pager.next')}
      </button>
      <label htmlFor={id}>{t('pager.size')}</label>
      <select id={id} value={size} onChange={(e) => onChange(0, Number(e.target.value))}>
        {[10, 20, 50, 100].map((n) => (
          <option key={n} value={n}>
            {n}
          </option>
        ))}
      </select>
    </nav>
  );
}

/** Search terms (space-separated; every term must match), sent to the API's `search`. */
export function SearchForm({ onSearch, label }: { onSearch: (terms: string[]) => void; label: string }) {
  const { t } = useTranslation();
  const [text, setText] = useState('');
  const id = useId();
  const submit = (e: FormEvent) => {
    e.preventDefault();
    onSearch(text.split(/\s+/).filter(Boolean).slice(0, 10));
  };
  return (
    <form className="search" role="search" onSubmit={submit}>
      <label htmlFor={id}>{label}</label>
      <input id={id} type="search" value={text} onChange={(e) => setText(e.target.value)} maxLength={2000} />
      <button type="submit">{t('common.search')}</button>
    </form>
  );
}

/** A modal <dialog>: Esc closes it, focus stays inside, the opener gets it back. */
export function Dialog({
  title,
  open,
  onClose,
  children,
}: {
  title: string;
  open: boolean;
  onClose: () => void;
  children: ReactNode;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const id = useId();
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (open && !d.open) d.showModal();
    if (!open && d.open) d.close();
  }, [open]);
  return (
    <dialog ref={ref} aria-labelledby={id} onClose={onClose} onCancel={onClose}>
      {open && (
        <>
          <h2 id={id}>{title}</h2>
          {children}
        </>
      )}
    </dialog>
  );
}

/** A button that asks before it acts. */
export function ConfirmButton({
  label,
  question,
  onConfirm,
  className,
}: {
  label: string;
  question: string;
  onConfirm: () => void;
  className?: string;
}) {
  const { t } = useTranslation();
  const [open, setOpen] = useState(false);
  return (
    <>
      <button type="button" className={className} onClick={() => setOpen(true)}>
        {label}
      </button>
      <Dialog title={t('common.confirm')} open={open} onClose={() => setOpen(false)}>
        <p>{question}</p>
        <div className="actions">
          <button type="button" onClick={() => setOpen(false)} autoFocus>
            {t('common.cancel')}
          </button>
          <button
            type="button"
            className="danger"
            onClick={() => {
              setOpen(false);
              onConfirm();
            }}
          >
            {label}
          </button>
        </div>
      </Dialog>
    </>
  );
}

/** A labelled form field. */
export function Field({
  label,
  children,
  hint,
}: {
  label: string;
  children: (id: string) => ReactNode;
  hint?: string;
}) {
  const id = useId();
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      {children(id)}
      {hint && <small className="muted">{hint}</small>}
    </div>
  );
}

export function ProgressBar({ percent, label }: { percent: number; label: string }) {
  return (
    <div
      className="progress"
      role="progressbar"
      aria-label={label}
      aria-valuemin={0}
      aria-valuemax={100}
      aria-valuenow={Math.round(percent)}
    >
      <div style={{ width: `${Math.max(0, Math.min(100, percent))}%` }} />
    </div>
  );
}
