import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useTranslation } from 'react-i18next';
import { Link } from 'wouter';
import { call, type Cve, type Image, type Page, type Registry } from '../api';
import { useCanWrite } from '../auth';
import { ErrorBox, LevelBadge, LevelBadges, Loading, ProgressBar } from '../components/ui';
import { fmtDuration, fmtNumber, fmtScore } from '../format';
import { useJobs, useRegistries } from '../queries';
import { imageHref } from './links';

function RegistryCard({ registry }: { registry: Registry }) {
  const { t } = useTranslation();
  const jobs = useJobs(registry.key);
  const cves = useQuery({
    queryKey: ['cves', registry.key, 'count'],
    queryFn: () =>
      call<Page<Cve>>('POST', '/api/vulnerabilities', {
        body: { repository: registry.key, pagination: { from: 0, size: 1 } },
      }),
  });
  const j = jobs.data;
  return (
    <section className="card" aria-labelledby={`reg-${registry._id}`}>
      <h3 id={`reg-${registry._id}`}>
        <Link href={`/registries/${encodeURIComponent(registry.key)}`}>{registry.name || registry.key}</Link>
      </h3>
      <p className={registry.isConnect ? 'ok' : 'bad'}>
        {registry.isConnect ? t('registries.connected') : t('registries.notConnected')}
        {!registry.isConnect && registry.connectError && <span>: {registry.connectError}</span>}
      </p>
      <ErrorBox error={jobs.error} />
      {j && (
        <dl className="facts">
          <dt>{t('overview.images')}</dt>
          <dd>{fmtNumber(j.total)}</dd>
          {(['done', 'pending', 'scanning', 'failed'] as const).map((s) => (
            <div key={s} className="fact">
              <dt>{t(`scanStatus.${s}`)}</dt>
              <dd>{fmtNumber(j.byState[s])}</dd>
            </div>
          ))}
          <dt>{t('overview.uniqueCves')}</dt>
          <dd>{cves.data ? fmtNumber(cves.data.count) : '…'}</dd>
        </dl>
      )}
    </section>
  );
}

export function Overview() {
  const { t } = useTranslation();
  const canWrite = useCanWrite();
  const qc = useQueryClient();
  const registries = useRegistries();
  const all = useJobs();
  const risky = useQuery({
    queryKey: ['images', 'risky'],
    queryFn: () =>
      call<Page<Image>>('POST', '/api/scanner', {
        body: { pagination: { from: 0, size: 10 }, sort: { field: 'score', order: 'desc' } },
      }),
  });
  const widespread = useQuery({
    queryKey: ['cves', 'widespread'],
    queryFn: () =>
      call<Page<Cve>>('POST', '/api/vulnerabilities', {
        body: { pagination: { from: 0, size: 10 }, sort: { field: 'images', order: 'desc' } },
      }),
  });
  const scanAll = useMutation({
    mutationFn: () => call<{ started: number }>('POST', '/api/scanner/scan', { body: {} }),
    onSuccess: () => qc.invalidateQueries({ queryKey: ['jobs'] }),
  });
  const j = all.data;
  const active = j && (j.discovering || j.jobs.queued > 0 || j.jobs.running > 0);
  return (
    <>
      <h1>{t('overview.title')}</h1>
      <section aria-labelledby="jobs-h" className="card">
        <h2 id="jobs-h">{t('overview.jobs')}</h2>
        <ErrorBox error={all.error} />
        {j && (
          <>
            <ProgressBar percent={j.percentDone} label={t('overview.progress')} />
            <p data-testid="progress">
              {t('overview.percent', { p: j.percentDone.toFixed(1) })} ·{' '}
              {t('overview.eta', { eta: fmtDuration(j.etaSeconds) })} ·{' '}
              {t('overview.jobCounts', { queued: j.jobs.queued, running: j.jobs.running, failed: j.jobs.failed })}
              {active ? ` · ${t('overview.running')}` : ''}
            </p>
          </>
        )}
        {canWrite && (
          <button type="button" onClick={() => scanAll.mutate()} disabled={scanAll.isPending}>
            {t('overview.scanAll')}
          </button>
        )}
        {scanAll.data && <p role="status">{t('overview.scanAllStarted', { n: scanAll.data.started })}</p>}
        <ErrorBox error={scanAll.error} />
      </section>

      <h2>{t('overview.registries')}</h2>
      <ErrorBox error={registries.error} />
      {registries.isPending && <Loading />}
      {registries.data?.length === 0 && (
        <p>
          {t('overview.noRegistries')} <Link href="/registries">{t('nav.registries')}</Link>
        </p>
      )}
      <div className="grid">
        {registries.data?.map((r) => (
          <RegistryCard key={r._id} registry={r} />
        ))}
      </div>

      <div className="two">
        <section aria-labelledby="risky-h">
          <h2 id="risky-h">{t('overview.riskiest')}</h2>
          <ErrorBox error={risky.error} />
          <table>
            <thead>
              <tr>
                <th scope="col">{t('field.image')}</th>
                <th scope="col">{t('field.score')}</th>
                <th scope="col">{t('field.levels')}</th>
              </tr>
            </thead>
            <tbody>
              {risky.data?.docs.map((i) => (
                <tr key={`${i.repository}/${i.image}:${i.tag}@${i.platform}`}>
                  <td>
                    <Link href={imageHref(i)}>{`${i.image}:${i.tag}`}</Link>
                    <div className="muted small">{i.repository}</div>
                  </td>
                  <td>{fmtScore(i.score)}</td>
                  <td>
                    <LevelBadges counts={i} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
        <section aria-labelledby="wide-h">
          <h2 id="wide-h">{t('overview.widespread')}</h2>
          <ErrorBox error={widespread.error} />
          <table>
            <thead>
              <tr>
                <th scope="col">{t('field.cveId')}</th>
                <th scope="col">{t('field.level')}</th>
                <th scope="col">{t('field.images')}</th>
              </tr>
            </thead>
            <tbody>
              {widespread.data?.docs.map((c) => (
                <tr key={c.cveId}>
                  <td>
                    <Link href={`/vulnerabilities/${encodeURIComponent(c.cveId)}`}>{c.cveId}</Link>
                  </td>
                  <td>
                    <LevelBadge level={c.level} />
                  </td>
                  <td>{fmtNumber(c.images)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
      </div>
    </>
  );
}
