import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useMemo, useState, type FormEvent } from 'react';
import { useTranslation } from 'react-i18next';
import { Link } from 'wouter';
import { call, LEVELS, type Image, type Level, type Page, type Weights } from '../api';
import { useCanWrite } from '../auth';
import { ErrorBox, Field, LevelBadges, Loading } from '../components/ui';
import { fmtScore } from '../format';
import { imageHref } from './links';

/** The API's formula (README "Scores"): Σ weight × count / (max weight × max(packages, 1)). */
function scoreWith(w: Weights, i: Image): number | null {
  if (i.score === null) return null;
  const max = Math.max(...LEVELS.map((l) => w[l]));
  if (!(max > 0)) return null;
  const sum = LEVELS.reduce((s, l) => s + w[l] * i[l], 0);
  return sum / (max * Math.max(i.packages, 1));
}

export default function ScoreWeights() {
  const { t } = useTranslation();
  const canWrite = useCanWrite();
  const qc = useQueryClient();
  const weights = useQuery({ queryKey: ['score'], queryFn: () => call<Weights>('GET', '/api/score') });
  const top = useQuery({
    queryKey: ['images', 'top50'],
    queryFn: () =>
      call<Page<Image>>('POST', '/api/scanner', {
        body: { pagination: { from: 0, size: 50 }, sort: { field: 'score', order: 'desc' } },
      }),
  });
  const [draft, setDraft] = useState<Record<Level, string> | null>(null);
  useEffect(() => {
    if (weights.data && !draft)
      setDraft(Object.fromEntries(LEVELS.map((l) => [l, String(weights.data[l])])) as Record<Level, string>);
  }, [weights.data, draft]);
  const save = useMutation({
    mutationFn: () => {
      const body: Record<string, unknown> = {};
      for (const l of LEVELS) {
        const raw = draft![l].trim();
        const n = Number(raw);
        // Sent as typed when it is no number, so the API's own message names the field.
        if (raw === '' || Number.isNaN(n)) body[l] = raw;
        else if (n !== weights.data![l]) body[l] = n;
      }
      return call<Weights>('PUT', '/api/score', { body });
    },
    onSuccess: async (w) => {
      setDraft(Object.fromEntries(LEVELS.map((l) => [l, String(w[l])])) as Record<Level, string>);
      await qc.invalidateQueries();
    },
  });
  const preview = useMemo(() => {
    if (!draft || !top.data) return null;
    const w = Object.fromEntries(LEVELS.map((l) => [l, Number(draft[l])])) as Weights;
    if (LEVELS.some((l) => !Number.isFinite(w[l]))) return null;
    return top.data.docs
      .map((img, idx) => ({ img, was: idx + 1, score: scoreWith(w, img) }))
      .sort((a, b) => (b.score ?? -1) - (a.score ?? -1))
      .map((r, idx) => ({ ...r, now: idx + 1 }));
  }, [draft, top.data]);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    save.mutate();
  };
  return (
    <>
      <h1>{t('score.title')}</h1>
      <p className="muted">{t('score.explain')}</p>
      <ErrorBox error={weights.error} />
      {!draft && <Loading />}
      {draft && (
        <form className="form" onSubmit={submit} noValidate>
          <div className="row">
            {LEVELS.map((l) => (
              <Field key={l} label={t(`level.${l}`)}>
                {(id) => (
                  <input
                    id={id}
                    inputMode="decimal"
                    value={draft[l]}
                    readOnly={!canWrite}
                    onChange={(e) => setDraft({ ...draft, [l]: e.target.value })}
                    data-level={l}
                  />
                )}
              </Field>
            ))}
          </div>
          <ErrorBox error={save.error} />
          {save.isSuccess && <p role="status">{t('score.saved')}</p>}
          {canWrite && (
            <button type="submit" className="primary" disabled={save.isPending}>
              {t('common.save')}
            </button>
          )}
        </form>
      )}
      <h2>{t('score.preview')}</h2>
      <p className="muted">{t('score.previewExplain')}</p>
      <ErrorBox error={top.error} />
      <table data-testid="preview">
        <caption className="sr-only">{t('score.preview')}</caption>
        <thead>
          <tr>
            <th scope="col">{t('score.newRank')}</th>
            <th scope="col">{t('score.oldRank')}</th>
            <th scope="col">{t('field.image')}</th>
            <th scope="col">{t('score.current')}</th>
            <th scope="col">{t('score.new')}</th>
            <th scope="col">{t('field.levels')}</th>
          </tr>
        </thead>
        <tbody>
          {preview?.map(({ img, was, now, score }) => (
            <tr key={`${img.repository}/${img.image}:${img.tag}@${img.platform}`}>
              <td>{now}</td>
              <td>
                {was}
                {was !== now && (
                  <span className={was > now ? 'up' : 'down'}>{was > now ? ` ▲${was - now}` : ` ▼${now - was}`}</span>
                )}
              </td>
              <td>
                <Link href={imageHref(img)}>{`${img.repository}/${img.image}:${img.tag}`}</Link>
              </td>
              <td>{fmtScore(img.score)}</td>
              <td>{fmtScore(score)}</td>
              <td>
                <LevelBadges counts={img} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}
