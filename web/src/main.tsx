import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App';
import { initI18n } from './i18n';
import './styles.css';

initI18n();
const queryClient = new QueryClient({
  defaultOptions: {
    queries: {
      // Auth and validation errors do not get better by asking again.
      retry: (n, e) =>
        n < 1 &&
        !(e instanceof Error && 'status' in e && [400, 401, 403, 404].includes((e as { status: number }).status)),
      refetchOnWindowFocus: false,
      staleTime: 5_000,
    },
  },
});

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <QueryClientProvider client={queryClient}>
      <App />
    </QueryClientProvider>
  </StrictMode>,
);
