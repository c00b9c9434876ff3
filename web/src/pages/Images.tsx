import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useParams } from 'wouter';
import { call, download, LEVELS, type Image, type Page, type Sort } from '../api';
import { useCanWrite } from '../auth';
import { ErrorBox, LevelBadge, Loading, Pager, ProgressBar, ScanState, SearchForm, SortTh } from '../components/ui';
import { fmtDate, fmtDuration, fmtNumber, fmtScore } from '../format';
import { useJobs } from '../queries';
import { imageHref } from './links';

type ImageSortField = 'created_at' | 'updated_at' | 'score' | 'image' | 'tag' | (typeof LEVELS)[number];

export default function Images() {
  const { t } = useTranslation();
  const canWrite = useCanWrite();
  const qc = useQueryClient();
  const key = decodeURIComponent(useParams<{ key: string }>().key ?? '');
  const [page, setPage] = useState({ from: 0, size: 20 });
  const [sort, setSort] = useState<Sort<ImageSortField>>({ field: 'score', order: 'desc' });
  const [search, setSearch] = useState<string[]>([]);
  const jobs = useJobs(key);
  const images = useQuery({
    queryKey: ['images', key, page, sort, search],
    queryFn: () =>
      call<Page<Image>>('POST', '/api/scanner', { body: { repository: key, pagination: page, sort, search } }),
    placeholderData: keepPreviousData,
    // While scans run, the list follows them.
    refetchInterval:
      jobs.data && (jobs.data.jobs.queued > 0 || jobs.data.jobs.running > 0 || jobs.data.discovering) ? 3000 : false,
  });
  const scan = useMutation({
    mutationFn: (force: boolean) => call('POST', '/api/scanner/scan', { body: { repository: key, force } }),
    onSuccess: () => qc.invalidateQueries({ queryKey: ['jobs'] }),
  });
  const [exportError, setExportError] = useState<unknown>(null);
  const exportAs = (format: 'csv' | 'json') => {
    setExportError(null);
    download('/api/scanner/export', { repository: key, format }, `${key.replace(/[^\w.-]+/g, '_')}.${format}`).catch(
      setExportError,
    );
  };
  const onSort = (s: Sort<ImageSortField>) => {
    setSort(s);
    setPage((p) => ({ ...p, from: 0 }));
  };
  const j = jobs.data;
  return (
    <>
      <p className="crumbs">
        <Link href="/registries">{t('nav.registries')}</Link> / {key}
      </p>
      <h1>{t('images.title', { registry: key })}</h1>
      {j && (
        <div className="card">
          <ProgressBar percent={j.percentDone} label={t('overview.progress')} />
          <p>
            {t('overview.percent', { p: j.percentDone.toFixed(1) })} ·{' '}
            {t('overview.eta', { eta: fmtDuration(j.etaSeconds) })} ·{' '}
            {(['done', 'pending', 'scanning', 'failed'] as const)
              .map((s) => `${t(`scanStatus.${s}`)} ${fmtNumber(j.byState[s])}`)
              .join(' · ')}
          </p>
          {j.lastDiscovery?.error && <p className="bad">{j.lastDiscovery.error}</p>}
        </div>
      )}
      <div className="toolbar">
        <SearchForm
          label={t('images.search')}
          onSearch={(s) => {
            setSearch(s);
            setPage((p) => ({ ...p, from: 0 }));
          }}
        />
        {canWrite && (
          <>
            <button type="button" onClick={() => scan.mutate(false)}>
              {t('registries.scanNow')}
            </button>
            <button type="button" onClick={() => scan.mutate(true)}>
              {t('images.rescanAll')}
            </button>
          </>
        )}
        <button type="button" onClick={() => exportAs('csv')}>
          {t('common.exportCsv')}
        </button>
        <button type="button" onClick={() => exportAs('json')}>
          {t('common.exportJson')}
        </button>
      </div>
      <ErrorBox error={scan.error ?? exportError} />
      <ErrorBox error={images.error} />
      {images.isPending && <Loading />}
      <div className="scroll">
        <table data-testid="images">
          <caption className="sr-only">{t('images.title', { registry: key })}</caption>
          <thead>
            <tr>
              <SortTh field="image" sort={sort} onSort={onSort}>
                {t('field.image')}
              </SortTh>
              <SortTh field="tag" sort={sort} onSort={onSort}>
                {t('field.tag')}
              </SortTh>
              <th scope="col">{t('field.platform')}</th>
              {LEVELS.map((l) => (
                <SortTh key={l} field={l} sort={sort} onSort={onSort}>
                  {t(`levelShort.${l}`)}
                </SortTh>
              ))}
              <SortTh field="score" sort={sort} onSort={onSort}>
                {t('field.score')}
              </SortTh>
              <th scope="col">{t('field.scanStatus')}</th>
              <SortTh field="created_at" sort={sort} onSort={onSort}>
                {t('field.firstScan')}
              </SortTh>
              <SortTh field="updated_at" sort={sort} onSort={onSort}>
                {t('field.lastScan')}
              </SortTh>
            </tr>
          </thead>
          <tbody>
            {images.data?.docs.map((i) => (
              <tr key={`${i.image}:${i.tag}@${i.platform}`}>
                <td>
                  <Link href={imageHref(i)}>{i.image}</Link>
                </td>
                <td>{i.tag}</td>
                <td>{i.platform}</td>
                {LEVELS.map((l) => (
                  <td key={l} className={i[l] ? '' : 'zero'}>
                    <LevelBadge level={l} count={i[l]} />
                  </td>
                ))}
                <td>{fmtScore(i.score)}</td>
                <td>
                  <ScanState image={i} />
                </td>
                <td>{fmtDate(i.created_at)}</td>
                <td>{fmtDate(i.updated_at)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {images.data && (
        <Pager
          from={page.from}
          size={page.size}
          count={images.data.count}
          onChange={(from, size) => setPage({ from, size })}
        />
      )}
    </>
  );
}
