import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useState, type FormEvent } from 'react';
import { useTranslation } from 'react-i18next';
import { call, type Schedule } from '../api';
import { useCanWrite } from '../auth';
import { ConfirmButton, ErrorBox, Field, Loading } from '../components/ui';
import { fmtDate } from '../format';

export default function ScheduleScreen() {
  const { t } = useTranslation();
  const canWrite = useCanWrite();
  const qc = useQueryClient();
  const schedule = useQuery({ queryKey: ['schedule'], queryFn: () => call<Schedule>('GET', '/api/scanner/schedule') });
  const [cron, setCron] = useState<string | null>(null);
  useEffect(() => {
    if (schedule.data && cron === null) setCron(schedule.data.cron);
  }, [schedule.data, cron]);
  const save = useMutation({
    mutationFn: (value: string) => call<Schedule>('PUT', '/api/scanner/schedule', { body: { cron: value } }),
    onSuccess: (s) => {
      setCron(s.cron);
      qc.setQueryData(['schedule'], s);
    },
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    save.mutate(cron ?? '');
  };
  const s = schedule.data;
  return (
    <>
      <h1>{t('schedule.title')}</h1>
      <p className="muted">{t('schedule.explain')}</p>
      <ErrorBox error={schedule.error} />
      {schedule.isPending && <Loading />}
      {s && (
        <dl className="facts card" data-testid="schedule">
          <dt>{t('schedule.state')}</dt>
          <dd>{s.enabled ? t('schedule.on') : t('schedule.off')}</dd>
          <dt>{t('schedule.source')}</dt>
          <dd>{t(`schedule.src.${s.source}`)}</dd>
          <dt>{t('schedule.timezone')}</dt>
          <dd>{s.timezone}</dd>
          <dt>{t('schedule.nextRun')}</dt>
          <dd>{fmtDate(s.nextRun)}</dd>
          <dt>{t('schedule.lastFired')}</dt>
          <dd>{fmtDate(s.lastFiredAt)}</dd>
        </dl>
      )}
      {s && cron !== null && canWrite && (
        <form className="form" onSubmit={submit} noValidate>
          <Field label={t('field.cron')} hint={t('registries.scheduleHint')}>
            {(id) => <input id={id} value={cron} placeholder="0 3 * * *" onChange={(e) => setCron(e.target.value)} />}
          </Field>
          <ErrorBox error={save.error} />
          {save.isSuccess && <p role="status">{t('score.saved')}</p>}
          <div className="actions">
            <button type="submit" className="primary" disabled={save.isPending}>
              {t('common.save')}
            </button>
            {s.enabled && (
              <ConfirmButton
                className="danger"
                label={t('schedule.turnOff')}
                question={t('schedule.confirmOff')}
                onConfirm={() => save.mutate('')}
              />
            )}
          </div>
        </form>
      )}
    </>
  );
}
