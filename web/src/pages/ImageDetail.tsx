import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useSearch } from 'wouter';
import { call, download, type Finding, type HistoryPoint, type Image, type Page, type Scope, type Sort } from '../api';
import { useCanWrite } from '../auth';
import { HistoryChart } from '../components/HistoryChart';
import {
  Dialog,
  ErrorBox,
  Field,
  LevelBadge,
  LevelBadges,
  Loading,
  Pager,
  ScanState,
  SearchForm,
  SortTh,
} from '../components/ui';
import { fmtDate, fmtNumber, fmtScore } from '../format';

type FindingSortField = 'level' | 'cveId' | 'type' | 'created_at' | 'updated_at';

function SuppressForm({ target, finding, onDone }: { target: ImageRef; finding: Finding; onDone: () => void }) {
  const { t } = useTranslation();
  const qc = useQueryClient();
  const [scope, setScope] = useState<Scope>('tag');
  const [reason, setReason] = useState('');
  const [author, setAuthor] = useState(() => localStorage.getItem('vulnscan.author') ?? '');
  const [expires, setExpires] = useState('');
  const save = useMutation({
    mutationFn: () => {
      const body: Record<string, unknown> = { cveId: finding.cveId, scope, reason, author };
      if (scope !== 'global') body.repository = target.repository;
      if (scope === 'image' || scope === 'tag') body.image = target.image;
      if (scope === 'tag') body.tag = target.tag;
      // datetime-local is the user's local time; the API wants an ISO instant with a zone.
      if (expires) body.expiresAt = new Date(expires).toISOString();
      return call('POST', '/api/suppressions', { body });
    },
    onSuccess: async () => {
      localStorage.setItem('vulnscan.author', author);
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
      <p>
        <strong>{finding.cveId}</strong> · {finding.type} {finding.version}
      </p>
      <Field label={t('field.scope')}>
        {(id) => (
          <select id={id} value={scope} onChange={(e) => setScope(e.target.value as Scope)}>
            {(['tag', 'image', 'registry', 'global'] as const).map((s) => (
              <option key={s} value={s}>
                {t(`scopeLong.${s}`)}
              </option>
            ))}
          </select>
        )}
      </Field>
      <Field label={t('field.reason')}>
        {(id) => <textarea id={id} value={reason} onChange={(e) => setReason(e.target.value)} required />}
      </Field>
      <Field label={t('field.author')}>
        {(id) => <input id={id} value={author} onChange={(e) => setAuthor(e.target.value)} required />}
      </Field>
      <Field label={t('field.expiresAt')} hint={t('suppressions.expiresHint')}>
        {(id) => <input id={id} type="datetime-local" value={expires} onChange={(e) => setExpires(e.target.value)} />}
      </Field>
      <ErrorBox error={save.error} />
      <div className="actions">
        <button type="button" onClick={onDone}>
          {t('common.cancel')}
        </button>
        <button type="submit" className="primary" disabled={save.isPending}>
          {t('findings.suppress')}
        </button>
      </div>
    </form>
  );
}

interface ImageRef {
  repository: string;
  image: string;
  tag: string;
  platform?: string;
}

export default function ImageDetail() {
  const { t } = useTranslation();
  const canWrite = useCanWrite();
  const params = new URLSearchParams(useSearch());
  const ref: ImageRef = {
    repository: params.get('repository') ?? '',
    image: params.get('image') ?? '',
    tag: params.get('tag') ?? '',
    platform: params.get('platform') || undefined,
  };
  const [page, setPage] = useState({ from: 0, size: 20 });
  const [sort, setSort] = useState<Sort<FindingSortField>>({ field: 'level', order: 'desc' });
  const [search, setSearch] = useState<string[]>([]);
  const [suppressing, setSuppressing] = useState<Finding | null>(null);
  const [exportError, setExportError] = useState<unknown>(null);
  const image = useQuery({
    queryKey: ['image', ref],
    queryFn: () => call<Image>('GET', '/api/scanner', { query: { ...ref } }),
  });
  const findings = useQuery({
    queryKey: ['findings', ref, page, sort, search],
    queryFn: () =>
      call<Page<Finding>>('POST', '/api/scanner/image', { body: { ...ref, pagination: page, sort, search } }),
    placeholderData: keepPreviousData,
  });
  const history = useQuery({
    queryKey: ['history', ref],
    queryFn: () =>
      call<Page<HistoryPoint>>('GET', '/api/scanner/history', { query: { ...ref, limit: 200, order: 'asc' } }),
  });
  const onSort = (s: Sort<FindingSortField>) => {
    setSort(s);
    setPage((p) => ({ ...p, from: 0 }));
  };
  const exportAs = (format: 'csv' | 'json') => {
    setExportError(null);
    download(
      '/api/scanner/image/export',
      { ...ref, format },
      `${ref.image.replace(/\//g, '_')}_${ref.tag}.${format}`,
    ).catch(setExportError);
  };
  const i = image.data;
  return (
    <>
      <p className="crumbs">
        <Link href="/registries">{t('nav.registries')}</Link> /{' '}
        <Link href={`/registries/${encodeURIComponent(ref.repository)}`}>{ref.repository}</Link> / {ref.image}:{ref.tag}
      </p>
      <h1>{`${ref.image}:${ref.tag}`}</h1>
      <ErrorBox error={image.error} />
      {i && (
        <dl className="facts card" data-testid="facts">
          <dt>{t('field.name')}</dt>
          <dd>{i.name}</dd>
          <dt>{t('field.digest')}</dt>
          <dd className="mono">{i.digest ?? '—'}</dd>
          <dt>{t('field.platform')}</dt>
          <dd>{i.platform}</dd>
          <dt>{t('field.os')}</dt>
          <dd>{i.namespace ?? '—'}</dd>
          <dt>{t('field.packages')}</dt>
          <dd>{fmtNumber(i.packages)}</dd>
          <dt>{t('field.score')}</dt>
          <dd data-testid="score">{fmtScore(i.score)}</dd>
          <dt>{t('field.levels')}</dt>
          <dd>
            <LevelBadges counts={i} />
          </dd>
          <dt>{t('field.scanStatus')}</dt>
          <dd>
            <ScanState image={i} />
          </dd>
          <dt>{t('field.firstScan')}</dt>
          <dd>{fmtDate(i.created_at)}</dd>
          <dt>{t('field.lastScan')}</dt>
          <dd>{fmtDate(i.updated_at)}</dd>
        </dl>
      )}
      <section aria-labelledby="hist-h">
        <h2 id="hist-h">{t('history.title')}</h2>
        <ErrorBox error={history.error} />
        {history.data && history.data.docs.length > 0 ? (
          <HistoryChart points={history.data.docs} />
        ) : (
          <p className="muted">{t('history.none')}</p>
        )}
      </section>
      <section aria-labelledby="find-h">
        <h2 id="find-h">{t('findings.title')}</h2>
        <div className="toolbar">
          <SearchForm
            label={t('findings.search')}
            onSearch={(s) => {
              setSearch(s);
              setPage((p) => ({ ...p, from: 0 }));
            }}
          />
          <button type="button" onClick={() => exportAs('csv')}>
            {t('common.exportCsv')}
          </button>
          <button type="button" onClick={() => exportAs('json')}>
            {t('common.exportJson')}
          </button>
        </div>
        <ErrorBox error={findings.error ?? exportError} />
        {findings.isPending && <Loading />}
        <div className="scroll">
          <table data-testid="findings">
            <caption className="sr-only">{t('findings.title')}</caption>
            <thead>
              <tr>
                <SortTh field="cveId" sort={sort} onSort={onSort}>
                  {t('field.cveId')}
                </SortTh>
                <SortTh field="level" sort={sort} onSort={onSort}>
                  {t('field.level')}
                </SortTh>
                <SortTh field="type" sort={sort} onSort={onSort}>
                  {t('field.package')}
                </SortTh>
                <th scope="col">{t('field.version')}</th>
                <th scope="col">{t('field.fixedBy')}</th>
                <th scope="col">{t('field.description')}</th>
                <SortTh field="created_at" sort={sort} onSort={onSort}>
                  {t('field.firstSeen')}
                </SortTh>
                {canWrite && <th scope="col">{t('common.actions')}</th>}
              </tr>
            </thead>
            <tbody>
              {findings.data?.docs.map((f) => (
                <tr
                  key={`${f.cveId}/${f.type}/${f.version}`}
                  className={f.suppressed ? 'suppressed' : ''}
                  data-cve={f.cveId}
                >
                  <td>
                    {f.link ? (
                      <a href={f.link} target="_blank" rel="noreferrer noopener">
                        {f.cveId}
                      </a>
                    ) : (
                      f.cveId
                    )}
                    {f.suppressed && <span className="tag-sup">{t('findings.suppressed')}</span>}
                  </td>
                  <td>
                    <LevelBadge level={f.level} />
                  </td>
                  <td>{f.type}</td>
                  <td className="mono">{f.version}</td>
                  <td className="mono">{f.fixedBy || <span className="muted">{t('findings.noFix')}</span>}</td>
                  <td className="desc">{f.description}</td>
                  <td>{fmtDate(f.created_at)}</td>
                  {canWrite && (
                    <td>
                      {!f.suppressed && (
                        <button
                          type="button"
                          onClick={() => setSuppressing(f)}
                          aria-label={t('findings.suppressAria', { cve: f.cveId })}
                        >
                          {t('findings.suppress')}
                        </button>
                      )}
                    </td>
                  )}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        {findings.data && (
          <Pager
            from={page.from}
            size={page.size}
            count={findings.data.count}
            onChange={(from, size) => setPage({ from, size })}
          />
        )}
      </section>
      <Dialog title={t('findings.suppressTitle')} open={suppressing !== null} onClose={() => setSuppressing(null)}>
        {suppressing && <SuppressForm target={ref} finding={suppressing} onDone={() => setSuppressing(null)} />}
      </Dialog>
    </>
  );
}
