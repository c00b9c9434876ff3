import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { useId, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Link } from 'wouter';
import { call, type Cve, type Page, type Sort } from '../api';
import { ErrorBox, LevelBadge, Loading, Pager, SearchForm, SortTh } from '../components/ui';
import { fmtNumber } from '../format';
import { useRegistries } from '../queries';

type CveSortField = 'cveId' | 'level' | 'images' | 'tags' | 'fixable';

export default function Vulnerabilities() {
  const { t } = useTranslation();
  const regId = useId();
  const registries = useRegistries();
  const [repository, setRepository] = useState('');
  const [page, setPage] = useState({ from: 0, size: 20 });
  const [sort, setSort] = useState<Sort<CveSortField>>({ field: 'level', order: 'desc' });
  const [search, setSearch] = useState<string[]>([]);
  const cves = useQuery({
    queryKey: ['cves', repository, page, sort, search],
    queryFn: () =>
      call<Page<Cve>>('POST', '/api/vulnerabilities', {
        body: { ...(repository ? { repository } : {}), pagination: page, sort, search },
      }),
    placeholderData: keepPreviousData,
  });
  const onSort = (s: Sort<CveSortField>) => {
    setSort(s);
    setPage((p) => ({ ...p, from: 0 }));
  };
  return (
    <>
      <h1>{t('cves.title')}</h1>
      <p className="muted">{t('cves.explain')}</p>
      <div className="toolbar">
        <label htmlFor={regId}>{t('field.repository')}</label>
        <select
          id={regId}
          value={repository}
          onChange={(e) => {
            setRepository(e.target.value);
            setPage((p) => ({ ...p, from: 0 }));
          }}
        >
          <option value="">{t('cves.allRegistries')}</option>
          {registries.data?.map((r) => (
            <option key={r._id} value={r.key}>
              {r.name || r.key}
            </option>
          ))}
        </select>
        <SearchForm
          label={t('cves.search')}
          onSearch={(s) => {
            setSearch(s);
            setPage((p) => ({ ...p, from: 0 }));
          }}
        />
      </div>
      <ErrorBox error={cves.error} />
      {cves.isPending && <Loading />}
      <div className="scroll">
        <table data-testid="cves">
          <caption className="sr-only">{t('cves.title')}</caption>
          <thead>
            <tr>
              <SortTh field="cveId" sort={sort} onSort={onSort}>
                {t('field.cveId')}
              </SortTh>
              <SortTh field="level" sort={sort} onSort={onSort}>
                {t('field.level')}
              </SortTh>
              <SortTh field="images" sort={sort} onSort={onSort}>
                {t('field.images')}
              </SortTh>
              <SortTh field="tags" sort={sort} onSort={onSort}>
                {t('field.tags')}
              </SortTh>
              <SortTh field="fixable" sort={sort} onSort={onSort}>
                {t('field.fixable')}
              </SortTh>
              <th scope="col">{t('field.packages')}</th>
              <th scope="col">{t('field.description')}</th>
            </tr>
          </thead>
          <tbody>
            {cves.data?.docs.map((c) => (
              <tr key={c.cveId}>
                <td>
                  <Link
                    href={`/vulnerabilities/${encodeURIComponent(c.cveId)}${repository ? `?repository=${encodeURIComponent(repository)}` : ''}`}
                  >
                    {c.cveId}
                  </Link>
                </td>
                <td>
                  <LevelBadge level={c.level} />
                </td>
                <td>{fmtNumber(c.images)}</td>
                <td>{fmtNumber(c.tags)}</td>
                <td>{c.fixable ? t('common.yes') : t('common.no')}</td>
                <td>
                  {c.packages.slice(0, 5).join(', ')}
                  {c.packages.length > 5 ? ' …' : ''}
                </td>
                <td className="desc">{c.description}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {cves.data && (
        <Pager
          from={page.from}
          size={page.size}
          count={cves.data.count}
          onChange={(from, size) => setPage({ from, size })}
        />
      )}
    </>
  );
}
