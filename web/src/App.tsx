import { lazy, Suspense, useId, useState, type FormEvent } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, Route, Switch, useLocation } from 'wouter';
import { AuthProvider, useAuth } from './auth';
import { ErrorBox, Loading } from './components/ui';
import { setLang, type Lang } from './i18n';
import { Overview } from './pages/Overview';

// The first screen ships in the entry chunk; the others load when visited.
const Registries = lazy(() => import('./pages/Registries'));
const Images = lazy(() => import('./pages/Images'));
const ImageDetail = lazy(() => import('./pages/ImageDetail'));
const Vulnerabilities = lazy(() => import('./pages/Vulnerabilities'));
const CveDetail = lazy(() => import('./pages/CveDetail'));
const ScoreWeights = lazy(() => import('./pages/ScoreWeights'));
const Suppressions = lazy(() => import('./pages/Suppressions'));
const Alerts = lazy(() => import('./pages/Alerts'));
const ScheduleScreen = lazy(() => import('./pages/Schedule'));

const NAV = [
  ['/', 'nav.overview'],
  ['/registries', 'nav.registries'],
  ['/vulnerabilities', 'nav.vulnerabilities'],
  ['/score', 'nav.score'],
  ['/suppressions', 'nav.suppressions'],
  ['/alerts', 'nav.alerts'],
  ['/schedule', 'nav.schedule'],
] as const;

function LangSwitch() {
  const { t, i18n } = useTranslation();
  const id = useId();
  return (
    <span className="lang">
      <label htmlFor={id} className="sr-only">
        {t('app.language')}
      </label>
      <select id={id} value={i18n.language} onChange={(e) => setLang(e.target.value as Lang)} data-testid="lang">
        <option value="zh" lang="zh-CN">
          简体中文
        </option>
        <option value="en" lang="en">
          English
        </option>
      </select>
    </span>
  );
}

function TokenPrompt() {
  const { t } = useTranslation();
  const { signIn, refused } = useAuth();
  const [token, setToken] = useState('');
  const [busy, setBusy] = useState(false);
  const id = useId();
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    await signIn(token.trim());
    setBusy(false);
  };
  return (
    <main id="main" className="token-prompt">
      <h1>{t('auth.title')}</h1>
      <p>{t('auth.explain')}</p>
      <form onSubmit={submit}>
        <div className="field">
          <label htmlFor={id}>{t('auth.token')}</label>
          <input
            id={id}
            type="password"
            autoComplete="off"
            required
            value={token}
            onChange={(e) => setToken(e.target.value)}
          />
        </div>
        <button type="submit" disabled={busy || !token.trim()}>
          {t('auth.signIn')}
        </button>
      </form>
      <ErrorBox error={refused} />
    </main>
  );
}

function Shell() {
  const { t } = useTranslation();
  const { phase, tokenRequired, readOnly, signOut } = useAuth();
  const [location] = useLocation();
  return (
    <>
      <a className="skip" href="#main">
        {t('app.skip')}
      </a>
      <header className="top">
        <span className="brand">{t('app.title')}</span>
        {phase === 'ready' && (
          <nav aria-label={t('nav.label')}>
            <ul>
              {NAV.map(([href, key]) => {
                const current = href === '/' ? location === '/' : location.startsWith(href);
                return (
                  <li key={href}>
                    <Link href={href} aria-current={current ? 'page' : undefined}>
                      {t(key)}
                    </Link>
                  </li>
                );
              })}
            </ul>
          </nav>
        )}
        <span className="spacer" />
        {readOnly && <span className="tag-ro">{t('auth.readOnly')}</span>}
        <LangSwitch />
        {tokenRequired && phase === 'ready' && (
          <button type="button" className="link" onClick={signOut}>
            {t('auth.signOut')}
          </button>
        )}
      </header>
      {phase === 'checking' && <Loading />}
      {phase === 'need-token' && <TokenPrompt />}
      {phase === 'ready' && (
        <main id="main">
          <Suspense fallback={<Loading />}>
            <Switch>
              <Route path="/" component={Overview} />
              <Route path="/registries" component={Registries} />
              <Route path="/registries/:key" component={Images} />
              <Route path="/image" component={ImageDetail} />
              <Route path="/vulnerabilities" component={Vulnerabilities} />
              <Route path="/vulnerabilities/:cveId" component={CveDetail} />
              <Route path="/score" component={ScoreWeights} />
              <Route path="/suppressions" component={Suppressions} />
              <Route path="/alerts" component={Alerts} />
              <Route path="/schedule" component={ScheduleScreen} />
              <Route>
                <h1>{t('app.notFound')}</h1>
              </Route>
            </Switch>
          </Suspense>
        </main>
      )}
    </>
  );
}

export function App() {
  return (
    <AuthProvider>
      <Shell />
    </AuthProvider>
  );
}
