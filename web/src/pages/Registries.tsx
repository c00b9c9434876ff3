import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { useTranslation } from 'react-i18next';
import { Link } from 'wouter';
import { call, type Registry } from '../api';
import { useCanWrite } from '../auth';
import { ConfirmButton, Dialog, ErrorBox, Field, Loading } from '../components/ui';
import { fmtDate } from '../format';
import { useRegistries } from '../queries';

const KINDS = ['registry', 'harbor', 'swr', 'bkrepo', 'dockerhub'] as const;
type Kind = (typeof KINDS)[number];

/** Options each kind takes (README "Per kind"); lists are comma-separated in the form. */
const KIND_OPTIONS: Record<Kind, Array<{ key: string; list?: boolean; required?: boolean; secret?: boolean }>> = {
  registry: [],
  harbor: [{ key: 'apiUrl' }, { key: 'projects', list: true }],
  swr: [
    { key: 'apiUrl', required: true },
    { key: 'namespace', required: true },
    { key: 'token', secret: true },
  ],
  bkrepo: [{ key: 'projectId', required: true }, { key: 'repoName', required: true }, { key: 'apiUrl' }],
  dockerhub: [{ key: 'namespaces', list: true, required: true }],
};

interface FormState {
  repository: string;
  port: string;
  name: string;
  kind: Kind;
  isHttps: boolean;
  skipTlsVerify: boolean;
  isAuth: boolean;
  username: string;
  passwd: string;
  schedule: string;
  options: Record<string, string>;
}

function toForm(r?: Registry): FormState {
  const kind = (KINDS as readonly string[]).includes(r?.kind ?? '') ? (r!.kind as Kind) : 'registry';
  const options: Record<string, string> = {};
  for (const o of KIND_OPTIONS[kind]) {
    const v = r?.options[o.key];
    options[o.key] = Array.isArray(v) ? v.join(', ') : typeof v === 'string' ? v : '';
  }
  return {
    repository: r?.repository ?? '',
    port: r ? String(r.port) : '5000',
    name: r?.name ?? '',
    kind,
    isHttps: r?.isHttps ?? false,
    skipTlsVerify: r?.skipTlsVerify ?? false,
    isAuth: r?.isAuth ?? false,
    username: r?.username ?? '',
    passwd: '',
    schedule: r?.schedule ?? '',
    options,
  };
}

/** The API body; the port is sent as typed so the API's own validation message comes back. */
function toBody(f: FormState, existing?: Registry): Record<string, unknown> {
  const options: Record<string, unknown> = {};
  for (const o of KIND_OPTIONS[f.kind]) {
    const v = f.options[o.key]?.trim() ?? '';
    if (!v) continue;
    options[o.key] = o.list ? v.split(/[\s,]+/).filter(Boolean) : v;
  }
  const body: Record<string, unknown> = {
    repository: f.repository.trim(),
    port: /^\d+$/.test(f.port.trim()) ? Number(f.port.trim()) : f.port,
    name: f.name.trim(),
    kind: f.kind,
    isHttps: f.isHttps,
    skipTlsVerify: f.skipTlsVerify,
    isAuth: f.isAuth,
    username: f.username,
    schedule: f.schedule.trim(),
    options,
  };
  // Empty: keep the stored password (the API's rule); only a typed one is sent.
  if (f.passwd) body.passwd = f.passwd;
  if (existing) body._id = existing._id;
  return body;
}

function RegistryForm({ existing, onDone }: { existing?: Registry; onDone: () => void }) {
  const { t } = useTranslation();
  const qc = useQueryClient();
  const [f, setF] = useState<FormState>(() => toForm(existing));
  const set = <K extends keyof FormState>(k: K, v: FormState[K]) => setF((s) => ({ ...s, [k]: v }));
  const save = useMutation({
    mutationFn: () => call<Registry>(existing ? 'PUT' : 'POST', '/api/repository', { body: toBody(f, existing) }),
    onSuccess: async () => {
      await qc.invalidateQueries({ queryKey: ['registries'] });
      onDone();
    },
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    save.mutate();
  };
  return (
    <form onSubmit={submit} className="form" noValidate>
      <div className="row">
        <Field label={t('field.repository')} hint={t('registries.hostHint')}>
          {(id) => <input id={id} value={f.repository} onChange={(e) => set('repository', e.target.value)} required />}
        </Field>
        <Field label={t('field.port')}>
          {(id) => (
            <input id={id} inputMode="numeric" value={f.port} onChange={(e) => set('port', e.target.value)} required />
          )}
        </Field>
        <Field label={t('field.name')}>
          {(id) => <input id={id} value={f.name} onChange={(e) => set('name', e.target.value)} />}
        </Field>
      </div>
      <div className="row">
        <Field label={t('field.kind')}>
          {(id) => (
            <select
              id={id}
              value={f.kind}
              onChange={(e) => {
                const kind = e.target.value as Kind;
                setF((s) => ({ ...s, kind, options: Object.fromEntries(KIND_OPTIONS[kind].map((o) => [o.key, ''])) }));
              }}
            >
              {KINDS.map((k) => (
                <option key={k} value={k}>
                  {t(`kind.${k}`)}
                </option>
              ))}
            </select>
          )}
        </Field>
        {KIND_OPTIONS[f.kind].map((o) => (
          <Field
            key={o.key}
            label={`${t(`option.${o.key as 'apiUrl'}`)}${o.required ? ' *' : ''}`}
            hint={o.list ? t('registries.listHint') : undefined}
          >
            {(id) => (
              <input
                id={id}
                type={o.secret ? 'password' : 'text'}
                value={f.options[o.key] ?? ''}
                onChange={(e) => setF((s) => ({ ...s, options: { ...s.options, [o.key]: e.target.value } }))}
              />
            )}
          </Field>
        ))}
      </div>
      <div className="row checks">
        {(['isHttps', 'skipTlsVerify', 'isAuth'] as const).map((k) => (
          <label key={k}>
            <input type="checkbox" checked={f[k]} onChange={(e) => set(k, e.target.checked)} /> {t(`field.${k}`)}
          </label>
        ))}
      </div>
      {f.isAuth && (
        <div className="row">
          <Field label={t('field.username')}>
            {(id) => (
              <input id={id} value={f.username} autoComplete="off" onChange={(e) => set('username', e.target.value)} />
            )}
          </Field>
          <Field label={t('field.passwd')} hint={existing?.passwd ? t('registries.passwdKeep') : undefined}>
            {(id) => (
              <input
                id={id}
                type="password"
                autoComplete="new-password"
                value={f.passwd}
                onChange={(e) => set('passwd', e.target.value)}
              />
            )}
          </Field>
        </div>
      )}
      <Field label={t('field.schedule')} hint={t('registries.scheduleHint')}>
        {(id) => (
          <input id={id} value={f.schedule} placeholder="0 3 * * *" onChange={(e) => set('schedule', e.target.value)} />
        )}
      </Field>
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

function RegistryRow({ r, onEdit }: { r: Registry; onEdit: () => void }) {
  const { t } = useTranslation();
  const canWrite = useCanWrite();
  const qc = useQueryClient();
  const test = useMutation({
    mutationFn: () => call<Registry>('PUT', '/api/repository', { query: { repository: r.key } }),
    onSettled: () => qc.invalidateQueries({ queryKey: ['registries'] }),
  });
  const scan = useMutation({
    mutationFn: () => call<{ started: boolean }>('POST', '/api/scanner/scan', { body: { repository: r.key } }),
    onSuccess: () => qc.invalidateQueries({ queryKey: ['jobs'] }),
  });
  const remove = useMutation({
    mutationFn: () => call<Registry>('DELETE', '/api/repository', { query: { repository: r.key } }),
    onSuccess: () => qc.invalidateQueries(),
  });
  return (
    <tr>
      <td>
        <Link href={`/registries/${encodeURIComponent(r.key)}`}>{r.name || r.key}</Link>
        <div className="muted small">{r.key}</div>
      </td>
      <td>{t(`kind.${(KINDS as readonly string[]).includes(r.kind) ? (r.kind as Kind) : 'registry'}`)}</td>
      <td>
        <span className={r.isConnect ? 'ok' : 'bad'}>
          {r.isConnect ? t('registries.connected') : t('registries.notConnected')}
        </span>
        {!r.isConnect && r.connectError && <div className="small bad">{r.connectError}</div>}
        <div className="muted small">{t('registries.testedAt', { at: fmtDate(r.lastTestedAt) })}</div>
      </td>
      <td>{r.schedule || '—'}</td>
      <td className="actions">
        {canWrite && (
          <>
            <button type="button" onClick={() => test.mutate()} disabled={test.isPending}>
              {t('registries.test')}
            </button>
            <button type="button" onClick={() => scan.mutate()} disabled={scan.isPending}>
              {t('registries.scanNow')}
            </button>
            <button type="button" onClick={onEdit}>
              {t('common.edit')}
            </button>
            <ConfirmButton
              className="danger"
              label={t('common.delete')}
              question={t('registries.confirmDelete', { name: r.name || r.key })}
              onConfirm={() => remove.mutate()}
            />
          </>
        )}
        {scan.data && (
          <span role="status">{scan.data.started ? t('registries.scanStarted') : t('registries.scanRunning')}</span>
        )}
        {test.data && (
          <span role="status">{test.data.isConnect ? t('registries.testOk') : t('registries.testFailed')}</span>
        )}
        <ErrorBox error={test.error ?? scan.error ?? remove.error} />
      </td>
    </tr>
  );
}

export default function Registries() {
  const { t } = useTranslation();
  const canWrite = useCanWrite();
  const registries = useRegistries();
  const [editing, setEditing] = useState<Registry | 'new' | null>(null);
  return (
    <>
      <h1>{t('registries.title')}</h1>
      {canWrite && (
        <button type="button" className="primary" onClick={() => setEditing('new')}>
          {t('registries.add')}
        </button>
      )}
      <ErrorBox error={registries.error} />
      {registries.isPending && <Loading />}
      <table>
        <caption className="sr-only">{t('registries.title')}</caption>
        <thead>
          <tr>
            <th scope="col">{t('field.name')}</th>
            <th scope="col">{t('field.kind')}</th>
            <th scope="col">{t('registries.connection')}</th>
            <th scope="col">{t('field.schedule')}</th>
            <th scope="col">{t('common.actions')}</th>
          </tr>
        </thead>
        <tbody>
          {registries.data?.map((r) => (
            <RegistryRow key={r._id} r={r} onEdit={() => setEditing(r)} />
          ))}
        </tbody>
      </table>
      {registries.data?.length === 0 && <p>{t('overview.noRegistries')}</p>}
      <Dialog
        title={editing === 'new' ? t('registries.add') : t('registries.edit')}
        open={editing !== null}
        onClose={() => setEditing(null)}
      >
        {editing !== null && (
          <RegistryForm existing={editing === 'new' ? undefined : editing} onDone={() => setEditing(null)} />
        )}
      </Dialog>
    </>
  );
}
