import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useId, useState, type FormEvent } from 'react';
import { useTranslation } from 'react-i18next';
import { call, type Page, type Scope, type Suppression } from '../api';
import { useCanWrite } from '../auth';
import { ConfirmButton, Dialog, ErrorBox, Field, Loading, Pager } from '../components/ui';
import { fmtDate } from '../format';

const SCOPES: Scope[] = ['global', 'registry', 'image', 'tag'];

/** An ISO instant as the value of a datetime-local input (local time). */
function toLocalInput(iso: string | null): string {
  if (!iso) return '';
  const d = new Date(iso);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

function SuppressionForm({ existing, onDone }: { existing?: Suppression; onDone: () => void }) {
  const { t } = useTranslation();
  const qc = useQueryClient();
  const [f, setF] = useState({
    cveId: existing?.cveId ?? '',
    scope: existing?.scope ?? ('tag' as Scope),
    repository: existing?.repository ?? '',
    image: existing?.image ?? '',
    tag: existing?.tag ?? '',
    reason: existing?.reason ?? '',
    author: existing?.author ?? localStorage.getItem('vulnscan.author') ?? '',
    expires: toLocalInput(existing?.expiresAt ?? null),
  });
  const set = (k: keyof typeof f, v: string) => setF((s) => ({ ...s, [k]: v }));
  const needs = {
    registry: ['repository'],
    image: ['repository', 'image'],
    tag: ['repository', 'image', 'tag'],
    global: [],
  }[f.scope];
  const save = useMutation({
    mutationFn: () => {
      const body: Record<string, unknown> = { cveId: f.cveId, scope: f.scope, reason: f.reason, author: f.author };
      for (const k of needs) body[k] = f[k as 'repository'];
      body.expiresAt = f.expires ? new Date(f.expires).toISOString() : null;
      return existing
        ? call('PUT', `/api/suppressions/${existing._id}`, { body })
        : call('POST', '/api/suppressions', { body });
    },
    onSuccess: async () => {
      await qc.invalidateQueries();
      onDone();
    },
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    save.mutate();
  };
  return (
    <form className="form" onSubmit={submit} noValidate>
      <div className="row">
        <Field label={t('field.cveId')}>
          {(id) => (
            <input id={id} value={f.cveId} onChange={(e) => set('cveId', e.target.value)} placeholder="CVE-2024-1234" />
          )}
        </Field>
        <Field label={t('field.scope')}>
          {(id) => (
            <select id={id} value={f.scope} onChange={(e) => set('scope', e.target.value)}>
              {SCOPES.map((s) => (
                <option key={s} value={s}>
                  {t(`scopeLong.${s}`)}
                </option>
              ))}
            </select>
          )}
        </Field>
      </div>
      <div className="row">
        {needs.map((k) => (
          <Field key={k} label={t(`field.${k as 'repository'}`)}>
            {(id) => (
              <input id={id} value={f[k as 'repository']} onChange={(e) => set(k as 'repository', e.target.value)} />
            )}
          </Field>
        ))}
      </div>
      <Field label={t('field.reason')}>
        {(id) => <textarea id={id} value={f.reason} onChange={(e) => set('reason', e.target.value)} />}
      </Field>
      <div className="row">
        <Field label={t('field.author')}>
          {(id) => <input id={id} value={f.author} onChange={(e) => set('author', e.target.value)} />}
        </Field>
        <Field label={t('field.expiresAt')} hint={t('suppressions.expiresHint')}>
          {(id) => (
            <input id={id} type="datetime-local" value={f.expires} onChange={(e) => set('expires', e.target.value)} />
          )}
        </Field>
      </div>
      <ErrorBox error={save.error} />
      <div className="actions">
        <button type="button" onClick={onDone}>
          {t('common.cancel')}
        </button>
        <button type="submit" className="primary" disabled={save.isPending}>
          {t('common.save')}
        </button>
      </div>
    </form>
  );
}

export default function Suppressions() {
  const { t } = useTranslation();
  const canWrite = useCanWrite();
  const qc = useQueryClient();
  const activeId = useId();
  const [page, setPage] = useState({ from: 0, size: 20 });
  const [active, setActive] = useState<'' | 'true' | 'false'>('');
  const [editing, setEditing] = useState<Suppression | 'new' | null>(null);
  const list = useQuery({
    queryKey: ['suppressions', page, active],
    queryFn: () =>
      call<Page<Suppression>>('GET', '/api/suppressions', { query: { ...page, active: active || undefined } }),
    placeholderData: keepPreviousData,
  });
  const remove = useMutation({
    mutationFn: (id: string) => call('DELETE', `/api/suppressions/${id}`),
    onSuccess: () => qc.invalidateQueries(),
  });
  return (
    <>
      <h1>{t('suppressions.title')}</h1>
      <p className="muted">{t('suppressions.explain')}</p>
      <div className="toolbar">
        {canWrite && (
          <button type="button" className="primary" onClick={() => setEditing('new')}>
            {t('suppressions.add')}
          </button>
        )}
        <label htmlFor={activeId}>{t('suppressions.filter')}</label>
        <select
          id={activeId}
          value={active}
          onChange={(e) => {
            setActive(e.target.value as '');
            setPage((p) => ({ ...p, from: 0 }));
          }}
        >
          <option value="">{t('suppressions.all')}</option>
          <option value="true">{t('suppressions.active')}</option>
          <option value="false">{t('suppressions.expired')}</option>
        </select>
      </div>
      <ErrorBox error={list.error ?? remove.error} />
      {list.isPending && <Loading />}
      <table data-testid="suppressions">
        <caption className="sr-only">{t('suppressions.title')}</caption>
        <thead>
          <tr>
            <th scope="col">{t('field.cveId')}</th>
            <th scope="col">{t('field.scope')}</th>
            <th scope="col">{t('suppressions.target')}</th>
            <th scope="col">{t('field.reason')}</th>
            <th scope="col">{t('field.author')}</th>
            <th scope="col">{t('field.expiresAt')}</th>
            <th scope="col">{t('suppressions.state')}</th>
            {canWrite && <th scope="col">{t('common.actions')}</th>}
          </tr>
        </thead>
        <tbody>
          {list.data?.docs.map((s) => (
            <tr key={s._id}>
              <td>{s.cveId}</td>
              <td>{t(`scope.${s.scope}`)}</td>
              <td>{[s.repository, s.image, s.tag].filter(Boolean).join(' / ') || t('scope.global')}</td>
              <td className="desc">{s.reason}</td>
              <td>{s.author}</td>
              <td>{s.expiresAt ? fmtDate(s.expiresAt) : t('suppressions.never')}</td>
              <td>{s.active ? t('suppressions.active') : t('suppressions.expired')}</td>
              {canWrite && (
                <td className="actions">
                  <button type="button" onClick={() => setEditing(s)}>
                    {t('common.edit')}
                  </button>
                  <ConfirmButton
                    className="danger"
                    label={t('common.delete')}
                    question={t('suppressions.confirmDelete', { cve: s.cveId })}
                    onConfirm={() => remove.mutate(s._id)}
                  />
                </td>
              )}
            </tr>
          ))}
        </tbody>
      </table>
      {list.data && (
        <Pager
          from={page.from}
          size={page.size}
          count={list.data.count}
          onChange={(from, size) => setPage({ from, size })}
        />
      )}
      <Dialog
        title={editing === 'new' ? t('suppressions.add') : t('suppressions.edit')}
        open={editing !== null}
        onClose={() => setEditing(null)}
      >
        {editing !== null && (
          <SuppressionForm existing={editing === 'new' ? undefined : editing} onDone={() => setEditing(null)} />
        )}
      </Dialog>
    </>
  );
}
