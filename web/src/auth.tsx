import { useQueryClient } from '@tanstack/react-query';
import { createContext, useCallback, useContext, useEffect, useState, type ReactNode } from 'react';
import { ApiError, call, onAuthProblem, tokenStore } from './api';

type Phase = 'checking' | 'need-token' | 'ready';
interface AuthState {
  phase: Phase;
  /** The API wanted a token (API_TOKENS / API_READ_TOKENS is set). */
  tokenRequired: boolean;
  /** Writes are refused for this token (HTTP 403): write actions are hidden. */
  readOnly: boolean;
  /** Why the last token was refused, for the prompt. */
  refused: ApiError | null;
  signIn(token: string): Promise<void>;
  signOut(): void;
}

const AuthContext = createContext<AuthState | null>(null);

/**
 * Is this token read-only? The API has no endpoint that says so, and the console must never change
 * anything to find out. So it sends a write that cannot succeed: `PUT /api/score` with an empty
 * body. The token check runs before validation, so a read-only token gets 403 (5007) and a writing
 * one gets 400 (5003, "give at least one of ..."): nothing is written either way. Any later 403 on a
 * write also switches the console to read-only.
 */
async function probeReadOnly(token: string | null): Promise<boolean> {
  try {
    await call('PUT', '/api/score', { body: {}, token, quiet: true });
    return false;
  } catch (e) {
    return e instanceof ApiError && e.status === 403;
  }
}

export function AuthProvider({ children }: { children: ReactNode }) {
  const qc = useQueryClient();
  const [phase, setPhase] = useState<Phase>('checking');
  const [tokenRequired, setTokenRequired] = useState(false);
  const [readOnly, setReadOnly] = useState(false);
  const [refused, setRefused] = useState<ApiError | null>(null);

  const check = useCallback(async (token: string | null): Promise<boolean> => {
    try {
      await call('GET', '/api/score', { token, quiet: true });
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) {
        setTokenRequired(true);
        return false;
      }
      throw e;
    }
    // Not awaited: the screens show at once; write actions hide when the answer says read-only.
    void probeReadOnly(token).then(setReadOnly);
    return true;
  }, []);

  useEffect(() => {
    const stored = tokenStore.get();
    check(stored)
      .then((ok) => {
        if (stored) setTokenRequired(true);
        setPhase(ok ? 'ready' : 'need-token');
      })
      // The service is down or broken: show the screens, which show the error.
      .catch(() => setPhase('ready'));
  }, [check]);

  useEffect(
    () =>
      onAuthProblem((status) => {
        if (status === 403) setReadOnly(true);
        else {
          tokenStore.clear();
          setTokenRequired(true);
          setPhase('need-token');
        }
      }),
    [],
  );

  const signIn = useCallback(
    async (token: string) => {
      setRefused(null);
      try {
        if (!(await check(token))) {
          setRefused(new ApiError(5007, 'authException', 'invalid bearer token', 401));
          return;
        }
      } catch (e) {
        setRefused(e instanceof ApiError ? e : new ApiError(0, 'network', String(e), 0));
        return;
      }
      tokenStore.set(token);
      qc.clear();
      setPhase('ready');
    },
    [check, qc],
  );

  const signOut = useCallback(() => {
    tokenStore.clear();
    qc.clear();
    setReadOnly(false);
    setPhase('need-token');
  }, [qc]);

  return (
    <AuthContext.Provider value={{ phase, tokenRequired, readOnly, refused, signIn, signOut }}>
      {children}
    </AuthContext.Provider>
  );
}

export function useAuth(): AuthState {
  const v = useContext(AuthContext);
  if (!v) throw new Error('useAuth outside AuthProvider');
  return v;
}

/** True when write actions may be shown. */
export function useCanWrite(): boolean {
  return !useAuth().readOnly;
}
