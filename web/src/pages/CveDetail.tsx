import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useParams, useSearch } from 'wouter';
import { call, type CveImage, type Page } from '../api';
import { ErrorBox, LevelBadge, Loading, Pager } from '../components/ui';
import { imageHref } from './links';

export default function CveDetail() {
  const { t } = useTranslation();
  const cveId = decodeURIComponent(useParams<{ cveId: string }>().cveId ?? '');
  const repository = new URLSearchParams(useSearch()).get('repository') ?? undefined;
  const [page, setPage] = useState({ from: 0, size: 20 });
  const images = useQuery({
    queryKey: ['cve-images', cveId, repository, page],
    queryFn: () =>
      call<Page<CveImage>>('GET', `/api/vulnerabilities/${encodeURIComponent(cveId)}/images`, {
        query: { repository, ...page },
      }),
    placeholderData: keepPreviousData,
  });
  return (
    <>
      <p className="crumbs">
        <Link href="/vulnerabilities">{t('nav.vulnerabilities')}</Link> / {cveId}
      </p>
      <h1>{t('cves.imagesOf', { cve: cveId })}</h1>
      <ErrorBox error={images.error} />
      {images.isPending && <Loading />}
      <table>
        <caption className="sr-only">{t('cves.imagesOf', { cve: cveId })}</caption>
        <thead>
          <tr>
            <th scope="col">{t('field.repository')}</th>
            <th scope="col">{t('field.image')}</th>
            <th scope="col">{t('field.platform')}</th>
            <th scope="col">{t('field.level')}</th>
            <th scope="col">{t('field.package')}</th>
            <th scope="col">{t('field.version')}</th>
            <th scope="col">{t('field.fixedBy')}</th>
          </tr>
        </thead>
        <tbody>
          {images.data?.docs.map((i) => (
            <tr key={`${i.repository}/${i.image}:${i.tag}@${i.platform}`}>
              <td>{i.repository}</td>
              <td>
                <Link href={imageHref(i)}>{`${i.image}:${i.tag}`}</Link>
              </td>
              <td>{i.platform}</td>
              <td>
                <LevelBadge level={i.level} />
              </td>
              <td>{i.packages.map((p) => p.package).join(', ')}</td>
              <td className="mono">{i.packages.map((p) => p.version).join(', ')}</td>
              <td className="mono">{i.packages.map((p) => p.fixedBy || '—').join(', ')}</td>
            </tr>
          ))}
        </tbody>
      </table>
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
