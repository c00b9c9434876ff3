/// <reference lib="dom" />
// Code passed to page.evaluate runs in the browser: it needs the DOM types.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import AxeBuilder from '@axe-core/playwright';
import mongoose from 'mongoose';
import { chromium, type Browser, type Page } from 'playwright-core';
import { start, type Running } from '../../src/server';

/** Screenshots of every main screen land here (CI keeps tmp/artifacts). */
export const ARTIFACTS = path.resolve(__dirname, '..', '..', 'tmp', 'artifacts', 'console');

/**
 * Debian's chromium, headless, with background traffic off. Playwright's launch() gives every run a
 * fresh temporary profile of its own (it refuses --user-data-dir, which is launchPersistentContext's).
 */
export async function launchChromium(): Promise<{ browser: Browser; close: () => Promise<void> }> {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  return {
    browser,
    close: () => browser.close(),
  };
}

/** The real service (server.ts start()): its own database on the test server, Clair, workers, port 0. */
export async function startService(env: Record<string, string> = {}): Promise<{ running: Running; base: string }> {
  const uri = new URL(process.env.MONGO_TEST_URI!);
  uri.pathname = `/b_${randomBytes(5).toString('hex')}`;
  const dataDir = mkdtempSync(path.join(tmpdir(), 'vulnscan-browser-data-'));
  const running = await start({
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'silent',
    MONGODB_URI: uri.toString(),
    DATA_DIR: dataDir,
    SECRET_KEY: Buffer.alloc(32, 9).toString('base64'),
    CLAIR_URL: process.env.CLAIR_TEST_URL!,
    SCAN_REFRESH_INTERVAL_MS: '0',
    CVE_SUMMARY_INTERVAL_MS: '500',
    SCHEDULER: 'false',
    ALERT_WORKER: 'false',
    ...env,
  });
  const address = running.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const stop = running.stop;
  running.stop = async (reason?: string) => {
    await mongoose.connection.dropDatabase().catch(() => undefined);
    await stop(reason);
    rmSync(dataDir, { recursive: true, force: true });
  };
  return { running, base: `http://127.0.0.1:${port}` };
}

/** axe-core on the page as it is: violations of impact serious or critical (WCAG 2.x A/AA rules). */
export async function seriousViolations(page: Page): Promise<Array<{ id: string; impact: string; nodes: string[] }>> {
  const result = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']).analyze();
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => ({ id: v.id, impact: v.impact!, nodes: v.nodes.map((n) => n.target.join(' ')).slice(0, 5) }));
}

export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const file = path.join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

/** The page's own text outside data cells, for the "no mixed languages" check. */
export async function chromeText(page: Page): Promise<string> {
  return page.evaluate(() => {
    const clone = document.body.cloneNode(true) as HTMLElement;
    // Data (image names, CVE descriptions from Clair, digests, ...) is not the console's to translate.
    clone.querySelectorAll('tbody, dd, code, .mono, option, [data-data]').forEach((n) => n.remove());
    return clone.innerText;
  });
}
