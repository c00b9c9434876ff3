import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { useTranslation } from 'react-i18next';
import { call, LEVELS, type Level, type Page, type Webhook } from '../api';
import { useCanWrite } from '../auth';
import { ConfirmButton, Dialog, ErrorBox, Field, LevelBadge, Loading, Pager } from '../components/ui';
import { fmtDate } from '../format';
import { useRegistries } from '../queries';

function WebhookForm({ existing, onDone }: { existing?: Webhook; onDone: () => void }) {
  const { t } = useTranslation();
  const qc = useQueryClient();
  const registries = useRegistries();
  const [f, setF] = useState({
    url: existing?.url ?? '',
    minLevel: existing?.minLevel ?? ('high' as Level),
    secret: '',
    enabled: existing?.enabled ?? true,
    repository: existing?.repository ?? '',
  });
  const save = useMutation({
    mutationFn: () => {
      const body: Record<string, unknown> = {
        url: f.url,
        minLevel: f.minLevel,
        enabled: f.enabled,
        repository: f.repository || null,
      };
      // Empty: keep the stored secret (absent keeps it, per the API).
      if (f.secret) body.secret = f.secret;
      return existing
        ? call('PUT', `/api/alerts/webhooks/${existing._id}`, { body })
        : call('POST', '/api/alerts/webhooks', { body });
    },
    onSuccess: async () => {
      await qc.invalidateQueries({ queryKey: ['webhooks'] });
      onDone();
    },
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    save.mutate();
  };
  return (
    <form className="form" onSubmit={submit} noValidate>
      <Field label={t('field.url')}>
        {(id) => <input id={id} type="url" value={f.url} onChange={(e) => setF({ ...f, url: e.target.value })} />}
      </Field>
      <div className="row">
        <Field label={t('field.minLevel')}>
          {(id) => (
            <select id={id} value={f.minLevel} onChange={(e) => setF({ ...f, minLevel: e.target.value as Level })}>
              {LEVELS.map((l) => (
                <option key={l} value={l}>
                  {t(`level.${l}`)}
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field label={t('field.repository')}>
          {(id) => (
            <select id={id} value={f.repository} onChange={(e) => setF({ ...f, repository: e.target.value })}>
              <option value="">{t('cves.allRegistries')}</option>
              {registries.data?.map((r) => (
                <option key={r._id} value={r.key}>
                  {r.name || r.key}
                </option>
              ))}
            </select>
          )}
        </Field>
      </div>
      <Field label={t('field.secret')} hint={existing?.secret ? t('alerts.secretKeep') : t('alerts.secretHint')}>
        {(id) => (
          <input
            id={id}
            type="password"
            autoComplete="new-password"
            value={f.secret}
            onChange={(e) => setF({ ...f, secret: e.target.value })}
          />
        )}
      </Field>
      <label className="check">
        <input type="checkbox" checked={f.enabled} onChange={(e) => setF({ ...f, enabled: e.target.checked })} />{' '}
        {t('field.enabled')}
      </label>
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

export default function Alerts() {
  const { t } = useTranslation();
  const canWrite = useCanWrite();
  const qc = useQueryClient();
  const [page, setPage] = useState({ from: 0, size: 20 });
  const [editing, setEditing] = useState<Webhook | 'new' | null>(null);
  const list = useQuery({
    queryKey: ['webhooks', page],
    queryFn: () => call<Page<Webhook>>('GET', '/api/alerts/webhooks', { query: page }),
    placeholderData: keepPreviousData,
  });
  const remove = useMutation({
    mutationFn: (id: string) => call('DELETE', `/api/alerts/webhooks/${id}`),
    onSuccess: () => qc.invalidateQueries({ queryKey: ['webhooks'] }),
  });
  return (
    <>
      <h1>{t('alerts.title')}</h1>
      <p className="muted">{t('alerts.explain')}</p>
      {canWrite && (
        <button type="button" className="primary" onClick={() => setEditing('new')}>
          {t('alerts.add')}
        </button>
      )}
      <ErrorBox error={list.error ?? remove.error} />
      {list.isPending && <Loading />}
      <table data-testid="webhooks">
        <caption className="sr-only">{t('alerts.title')}</caption>
        <thead>
          <tr>
            <th scope="col">{t('field.url')}</th>
            <th scope="col">{t('field.minLevel')}</th>
            <th scope="col">{t('field.repository')}</th>
            <th scope="col">{t('field.secret')}</th>
            <th scope="col">{t('field.enabled')}</th>
            <th scope="col">{t('alerts.created')}</th>
            {canWrite && <th scope="col">{t('common.actions')}</th>}
          </tr>
        </thead>
        <tbody>
          {list.data?.docs.map((w) => (
            <tr key={w._id}>
              <td className="mono">{w.url}</td>
              <td>
                <LevelBadge level={w.minLevel} />
              </td>
              <td>{w.repository ?? t('cves.allRegistries')}</td>
              <td>{w.secret ? t('alerts.signed') : '—'}</td>
              <td>{w.enabled ? t('common.yes') : t('common.no')}</td>
              <td>{fmtDate(w.createdAt)}</td>
              {canWrite && (
                <td className="actions">
                  <button type="button" onClick={() => setEditing(w)}>
                    {t('common.edit')}
                  </button>
                  <ConfirmButton
                    className="danger"
                    label={t('common.delete')}
                    question={t('alerts.confirmDelete', { url: w.url })}
                    onConfirm={() => remove.mutate(w._id)}
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
        title={editing === 'new' ? t('alerts.add') : t('alerts.edit')}
        open={editing !== null}
        onClose={() => setEditing(null)}
      >
        {editing !== null && (
          <WebhookForm existing={editing === 'new' ? undefined : editing} onDone={() => setEditing(null)} />
        )}
      </Dialog>
    </>
  );
}
