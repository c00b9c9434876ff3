import { useQuery } from '@tanstack/react-query';
import { call, type JobsProgress, type Registry } from './api';

export function useRegistries() {
  return useQuery({ queryKey: ['registries'], queryFn: () => call<Registry[]>('GET', '/api/repository') });
}

/** Scan progress; polled every 2 s while something is queued, running or being discovered. */
export function useJobs(repository?: string) {
  return useQuery({
    queryKey: ['jobs', repository ?? null],
    queryFn: () => call<JobsProgress>('GET', '/api/scanner/jobs', { query: { repository } }),
    refetchInterval: (q) => {
      const d = q.state.data;
      return d && (d.discovering || d.jobs.queued > 0 || d.jobs.running > 0) ? 2000 : 15_000;
    },
  });
}
