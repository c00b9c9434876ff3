import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DATABASE_UNAVAILABLE } from '../../src/errors/app-error';
import { startFerret, type FerretProcess } from '../../proof/lib/ferretdb';
import { sleep, waitFor } from '../../proof/lib/proc';
import { startService, type ServiceProcess } from '../../proof/lib/service';

/**
 * The database disappears (its real FerretDB process SIGKILLed) for longer than the driver's server
 * selection timeout while every periodic task runs on a short interval, then comes back on the same
 * data. The service (a real child process) must stay up, answer 5005 meanwhile, keep /healthz at
 * 200, and resume its periodic work by itself; no periodic task may reach the process-level
 * unhandledRejection / uncaughtException handlers (which would stop the process).
 */
const OUTAGE_MS = 15_000;

jest.setTimeout(180_000);

let dir: string;
let db: FerretProcess;
let svc: ServiceProcess;

async function call(method: string, url: string, body?: unknown) {
  const res = await fetch(url, {
    method,
    headers: body ? { 'content-type': 'application/json' } : {},
    body: body ? JSON.stringify(body) : undefined,
    signal: AbortSignal.timeout(30_000),
  });
  return { status: res.status, body: (await res.json()) as { code: number; data: any; message: string } };
}

function logLines(): Array<Record<string, any>> {
  return readFileSync(svc.proc.logPath, 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, any>);
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'vulnscan-outage-'));
  db = await startFerret(dir);
  svc = await startService(
    dir,
    {
      MONGODB_URI: `${db.uri.replace(/\/$/, '')}/outage`,
      // Nothing answers here: Clair calls fail, which the refresh must survive too.
      CLAIR_URL: 'http://127.0.0.1:9',
      SUPPRESSION_SWEEP_MS: '300',
      CVE_SUMMARY_INTERVAL_MS: '300',
      SCHEDULER_TICK_MS: '300',
      SCAN_REFRESH_INTERVAL_MS: '1000',
      SCAN_POLL_MS: '200',
      ALERT_POLL_MS: '200',
      SCAN_LEASE_MS: '2000',
      SHUTDOWN_TIMEOUT_MS: '5000',
    },
    { fromSource: true, readyTimeoutMs: 120_000 },
  );
});

afterAll(async () => {
  await svc?.stop();
  await db?.stop();
  if (!process.env.KEEP_OUTAGE_DIR) rmSync(dir, { recursive: true, force: true });
});

describe('When the database is killed for longer than the server selection timeout', () => {
  it('then the service stays up, answers 5005 meanwhile, and resumes its periodic work by itself', async () => {
    // Arrange: a suppression that expires while the database is away; only the sweep deactivates it.
    const expiresAt = new Date(Date.now() + 4000).toISOString();
    const created = await call('POST', `${svc.url}/api/suppressions`, {
      cveId: 'CVE-2024-0001',
      scope: 'global',
      reason: 'accepted risk until the outage test ends',
      author: 'outage test',
      expiresAt,
    });
    expect(created.status).toBe(201);
    const id = created.body.data._id as string;
    const pid = svc.pid;

    // Act: kill the database.
    await db.kill();
    const down = await waitFor(
      'an API call to answer 5005',
      async () => {
        const r = await call('GET', `${svc.url}/api/score`);
        return r.body.code === 5005 ? r : undefined;
      },
      30_000,
    );
    const readyWhileDown = await call('GET', `${svc.url}/readyz`);
    const healthWhileDown = await call('GET', `${svc.url}/healthz`);
    await sleep(OUTAGE_MS);
    const stillUp = svc.proc.alive && svc.pid === pid;
    const scoreLate = await call('GET', `${svc.url}/api/score`);
    await db.restart();

    // Assert: the outage was a state, not a crash.
    expect(down).toEqual({
      status: 503,
      body: { code: 5005, data: DATABASE_UNAVAILABLE, message: 'dbException' },
    });
    expect(readyWhileDown.status).toBe(503);
    expect(readyWhileDown.body.code).toBe(5005);
    // No driver text, host or port in a reply.
    expect(readyWhileDown.body.data).toMatch(/^not ready: the database does not answer a read: /);
    expect(readyWhileDown.body.data).not.toMatch(/127\.0\.0\.1|:\d{4,5}|Mongo/);
    expect(healthWhileDown).toEqual({ status: 200, body: { code: 0, data: { status: 'alive' }, message: 'ok' } });
    expect(stillUp).toBe(true);
    expect(scoreLate.body.code).toBe(5005);

    // Everything resumes: readiness, reads, and the sweep (it deactivates the suppression that expired meanwhile).
    await waitFor('/readyz to answer 200', async () => (await call('GET', `${svc.url}/readyz`)).status === 200, 60_000);
    expect((await call('GET', `${svc.url}/api/score`)).status).toBe(200);
    const swept = await waitFor(
      'the expiry sweep to deactivate the suppression',
      async () => {
        const r = await call('GET', `${svc.url}/api/suppressions/${id}`);
        return r.body.data?.active === false ? r : undefined;
      },
      30_000,
      200,
    );
    expect(swept.body.data).toMatchObject({ _id: id, active: false, expiresAt });

    // No periodic task reached the process-level handlers; the outage was logged as a state change.
    const lines = logLines();
    expect(lines.filter((l) => l.level >= 60 || /unhandled rejection|uncaught exception/.test(l.msg))).toEqual([]);
    expect(lines.some((l) => String(l.msg).startsWith('the database is unavailable'))).toBe(true);
    expect(lines.some((l) => String(l.msg).startsWith('the database is back'))).toBe(true);
    // Failures that did happen are logged with the task's name, never thrown.
    for (const l of lines.filter((x) => /^periodic task failed/.test(String(x.msg)))) {
      expect(l.task).toEqual(expect.any(String));
    }
    expect(svc.proc.alive && svc.pid === pid).toBe(true);
  });
});
