/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
// Code passed to page.evaluate runs in the browser: it needs the DOM types.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { en } from '../../web/src/locales/en';
import { zh } from '../../web/src/locales/zh';
import { consoleJsSize } from '../../scripts/console-size';
import { DEBIAN_PACKAGES } from '../fixtures/clair/debian-packages';
import { buildTestApp } from '../helpers/app';
import { debianLayer, pushImage } from '../helpers/oci-image';
import { startRegistry, type RegistryProcess } from '../helpers/registry-process';
import { chromeText, launchChromium, screenshot, seriousViolations, startService } from './browser';
import type { Running } from '../../src/server';

/** Every string of a dictionary, flattened. */
function strings(d: object): string[] {
  return Object.values(d).flatMap((v) => (typeof v === 'string' ? [v] : strings(v as object)));
}
/** Console strings of one language that the other does not share (product names like "Harbor" are in both). */
function only(a: object, b: object): string[] {
  const other = new Set(strings(b));
  return [...new Set(strings(a))]
    .filter((s) => !other.has(s) && s.length >= 4 && !s.includes('{{'))
    .sort((x, y) => y.length - x.length);
}
const EN_ONLY = only(en, zh);
const CJK = /[\u3400-\u9fff]/;

async function expectSingleLanguage(page: Page, lang: 'en' | 'zh'): Promise<void> {
  const text = await chromeText(page);
  if (lang === 'zh') {
    expect(EN_ONLY.filter((s) => text.includes(s))).toEqual([]);
    expect(CJK.test(text)).toBe(true);
  } else {
    expect(text.split('\n').filter((l) => CJK.test(l))).toEqual([]);
  }
}

/** A link of the main navigation (the same words may also appear in the page). */
function nav(page: Page, name: string, label = 'Main') {
  return page.getByRole('navigation', { name: label }).getByRole('link', { name, exact: true });
}

async function expectAccessible(page: Page): Promise<void> {
  expect(await seriousViolations(page)).toEqual([]);
}

// The fixture's vulnerabilities of these packages: CVE-2023-45853 Critical (zlib1g), CVE-2024-0727 High
// and CVE-2023-5678 Medium (libssl3), plus what it holds for the other packages.
const SMALL = DEBIAN_PACKAGES.filter((p) => p.name === 'libssl3' || p.name === 'base-files');

describe('The web console in a real browser (chromium) against the real service, registry and Clair', () => {
  let registry: RegistryProcess;
  let service: { running: Running; base: string };
  let chromium: Awaited<ReturnType<typeof launchChromium>>;
  let browser: Browser;
  const cspViolations: string[] = [];

  beforeAll(async () => {
    registry = await startRegistry();
    await pushImage(registry.url, 'demo/debian', ['12', 'stable'], [debianLayer(DEBIAN_PACKAGES)]);
    await pushImage(registry.url, 'demo/slim', ['1.0'], [debianLayer(SMALL)]);
    service = await startService();
    chromium = await launchChromium();
    browser = chromium.browser;
  });
  afterAll(async () => {
    await chromium?.close();
    await service?.running.stop();
    await registry?.stop();
  });

  async function newPage(locale: string): Promise<{ context: BrowserContext; page: Page }> {
    const context = await browser.newContext({ locale, viewport: { width: 1360, height: 900 } });
    const page = await context.newPage();
    page.on('console', (m) => {
      if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text());
    });
    return { context, page };
  }

  async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await fetch(`${service.base}${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return ((await res.json()) as { data: T }).data;
  }

  it('When the console is not asked for the API, then /api, probes and metrics keep their JSON and the console has its own CSP', async () => {
    const root = await fetch(`${service.base}/registries/anything`);
    expect(root.status).toBe(200);
    expect(root.headers.get('content-type')).toMatch(/text\/html/);
    expect(root.headers.get('content-security-policy')).toContain("script-src 'self'");
    const html = await root.text();
    const asset = /src="(\/assets\/[^"]+\.js)"/.exec(html)![1]!;
    const js = await fetch(`${service.base}${asset}`);
    expect(js.status).toBe(200);
    expect(js.headers.get('cache-control')).toContain('immutable');
    expect((await fetch(`${service.base}/assets/missing.js`)).status).toBe(404);
    const unknownApi = await fetch(`${service.base}/api/nothing-here`);
    expect(unknownApi.status).toBe(404);
    expect(await unknownApi.json()).toMatchObject({ code: 5004 });
    expect(unknownApi.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(((await (await fetch(`${service.base}/healthz`)).json()) as { code: number }).code).toBe(0);
    expect(await (await fetch(`${service.base}/metrics`)).text()).toContain('# HELP');

    const size = consoleJsSize();
    process.stderr.write(
      `[browser] console JS: first screen ${(size.entryGzip / 1024).toFixed(1)} KB gzip, all chunks ${(size.totalGzip / 1024).toFixed(1)} KB gzip\n`,
    );
    expect(size.totalGzip).toBeLessThan(300 * 1024);
  });

  it('When an operator adds a registry, scans it, opens an image, sorts and searches its findings, suppresses one, changes weights and switches language, then every screen follows the API', async () => {
    const { context, page } = await newPage('en-US');

    // First screen, measured (reported, never asserted): a warm-up load, then a fresh context (no cache).
    await page.goto(`${service.base}/`);
    await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
    const cold = await newPage('en-US');
    await cold.page.goto(`${service.base}/`);
    const rendered = await cold.page.waitForFunction(
      () => document.querySelector('h1')?.textContent === 'Overview' && performance.now(),
    );
    const timing = await cold.page.evaluate(() => {
      const nav = performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming;
      return {
        responseEnd: nav.responseEnd,
        domInteractive: nav.domInteractive,
        domContentLoaded: nav.domContentLoadedEventEnd,
      };
    });
    process.stderr.write(
      `[browser] first screen on loopback (fresh context): HTML ${timing.responseEnd.toFixed(0)} ms, ` +
        `domInteractive ${timing.domInteractive.toFixed(0)} ms, DOMContentLoaded ${timing.domContentLoaded.toFixed(0)} ms, ` +
        `overview rendered ${Number(await rendered.jsonValue()).toFixed(0)} ms\n`,
    );
    await cold.context.close();
    expect(await page.getAttribute('html', 'lang')).toBe('en');
    await expectSingleLanguage(page, 'en');
    await expectAccessible(page);

    // Registries: the API's validation message comes back in the user's language.
    await nav(page, 'Registries').click();
    await page.getByRole('heading', { level: 1, name: 'Registries' }).waitFor();
    await page.getByRole('button', { name: 'Add a registry' }).click();
    const dialog = page.getByRole('dialog', { name: 'Add a registry' });
    await dialog.getByLabel('Registry', { exact: true }).fill('127.0.0.1');
    await dialog.getByLabel('Port').fill('99999');
    await dialog.getByRole('button', { name: 'Save' }).click();
    await dialog.getByRole('alert').waitFor();
    expect(await dialog.getByRole('alert').innerText()).toContain('Port: must be between 1 and 65535');
    await expectAccessible(page);
    await screenshot(page, 'registry-form-error');
    await dialog.getByLabel('Port').fill(String(registry.port));
    await dialog.getByRole('button', { name: 'Save' }).click();
    await dialog.waitFor({ state: 'hidden' });
    const key = `127.0.0.1:${registry.port}`;
    const row = page.getByRole('row').filter({ hasText: key });
    await row.getByText('Connected', { exact: true }).waitFor();

    // Creating the registry started its discovery; "Scan now" asks again (answered either way).
    await row.getByRole('button', { name: 'Scan now' }).click();
    await row.getByRole('status').waitFor();
    for (let i = 0; i < 600; i++) {
      const jobs = await api<{ total: number; byState: { done: number }; discovering: boolean }>(
        'GET',
        `/api/scanner/jobs?repository=${encodeURIComponent(key)}`,
      );
      if (jobs.total === 3 && jobs.byState.done === 3 && !jobs.discovering) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    await expectAccessible(page);
    await screenshot(page, 'registries');

    // Images of the registry: sorted by score, then searched.
    await row.getByRole('link', { name: key }).click();
    const images = page.getByTestId('images');
    await images.getByRole('row').nth(3).waitFor();
    await page.getByText('Scanned', { exact: true }).first().waitFor();
    await page.getByRole('button', { name: /^Score/ }).click(); // desc → asc
    await page.waitForFunction(() => document.querySelector('th[aria-sort="ascending"] [data-sort="score"]') !== null);
    await page.waitForFunction(() => {
      const scores = [...document.querySelectorAll('[data-testid="images"] tbody tr td:nth-child(10)')].map((td) =>
        Number(td.textContent),
      );
      return scores.length === 3 && scores.every((s, i) => i === 0 || scores[i - 1]! <= s);
    });
    await expectAccessible(page);
    await screenshot(page, 'images');
    await page.getByLabel('Search images (name, tag, OS)').fill('stable');
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    await page.getByText('1–1 of 1').waitFor();

    // One image: facts, history chart, findings sorted and searched.
    await images.getByRole('link', { name: 'demo/debian' }).click();
    await page.getByRole('heading', { level: 1, name: 'demo/debian:stable' }).waitFor();
    const findings = page.getByTestId('findings');
    await findings.locator('tbody tr').first().waitFor();
    const scoreBefore = Number(await page.getByTestId('score').innerText());
    expect(scoreBefore).toBeGreaterThan(0);
    expect(await findings.locator('tbody tr').first().locator('td').nth(1).innerText()).toBe('Critical'); // level desc
    await findings.getByRole('button', { name: /^CVE/ }).click(); // cveId desc
    await page.waitForFunction(() => document.querySelector('th[aria-sort="descending"] [data-sort="cveId"]') !== null);
    await page.waitForFunction(() => {
      const ids = [...document.querySelectorAll('[data-testid="findings"] tbody tr')].map(
        (r) => r.getAttribute('data-cve') ?? '',
      );
      return ids.length > 1 && ids.every((id, i) => i === 0 || ids[i - 1]!.localeCompare(id) >= 0);
    });
    await page.locator('.chart canvas').first().waitFor();
    await page.getByLabel('Search (CVE, package, level, version, description)').fill('zlib');
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    await page.getByText('1–1 of 1').waitFor();
    expect(await findings.locator('tbody tr').getAttribute('data-cve')).toBe('CVE-2023-45853');
    await expectAccessible(page);
    await screenshot(page, 'image');

    // Suppress the critical one for this tag: the row is marked and the score drops.
    await findings.getByRole('button', { name: 'Suppress CVE-2023-45853' }).click();
    const sup = page.getByRole('dialog', { name: 'Suppress a vulnerability' });
    await sup.getByLabel('Reason').fill('zlib minizip is not used');
    await sup.getByLabel('Author').fill('browser test');
    await sup.getByRole('button', { name: 'Suppress' }).click();
    await sup.waitFor({ state: 'hidden' });
    await findings.locator('tr.suppressed[data-cve="CVE-2023-45853"]').waitFor();
    await findings.getByText('suppressed', { exact: true }).waitFor();
    await page.waitForFunction(
      (before) => Number(document.querySelector('[data-testid="score"]')!.textContent) < before,
      scoreBefore,
    );

    // Score weights: a bad value gets the API's message; a good one re-ranks the preview and is saved.
    await nav(page, 'Score weights').click();
    await page.getByTestId('preview').locator('tbody tr').nth(2).waitFor();
    await page.getByLabel('Critical').fill('abc');
    await page.getByRole('button', { name: 'Save' }).click();
    expect(await page.getByRole('alert').innerText()).toContain('Critical weight: must be a number');
    await page.getByLabel('Critical').fill('1');
    await page.getByLabel('Low').fill('100');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByText('Saved.').waitFor();
    expect(await api('GET', '/api/score')).toMatchObject({ critical: 1, low: 100 });
    await expectAccessible(page);
    await screenshot(page, 'score');

    // Vulnerabilities and one CVE's images.
    await nav(page, 'Vulnerabilities').click();
    const cves = page.getByTestId('cves');
    await cves.getByRole('link', { name: 'CVE-2024-0727' }).waitFor({ timeout: 30_000 });
    await expectAccessible(page);
    await screenshot(page, 'vulnerabilities');
    await cves.getByRole('link', { name: 'CVE-2024-0727' }).click();
    await page.getByRole('heading', { level: 1, name: 'Images affected by CVE-2024-0727' }).waitFor();
    await page.getByRole('link', { name: 'demo/slim:1.0' }).waitFor();

    // Suppressions, alert receivers, schedule: create through the forms.
    await nav(page, 'Suppressions').click();
    await page.getByTestId('suppressions').getByText('CVE-2023-45853').waitFor();
    await expectAccessible(page);
    await nav(page, 'Alert receivers').click();
    await page.getByRole('button', { name: 'Add a receiver' }).click();
    const hook = page.getByRole('dialog', { name: 'Add a receiver' });
    await hook.getByLabel('URL').fill('ftp://example.invalid/x');
    await hook.getByRole('button', { name: 'Save' }).click();
    expect(await hook.getByRole('alert').innerText()).toContain('URL: must be an http or https URL');
    await hook.getByLabel('URL').fill('http://127.0.0.1:9/alerts');
    await hook.getByRole('button', { name: 'Save' }).click();
    await page.getByTestId('webhooks').getByText('http://127.0.0.1:9/alerts').waitFor();
    await expectAccessible(page);
    await nav(page, 'Scan-all schedule').click();
    await page.getByLabel('Cron expression').fill('0 3 * * *');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByTestId('schedule').getByText('On', { exact: true }).waitFor();
    await expectAccessible(page);

    // Switch to Chinese: every screen in Chinese only, the choice kept across a reload.
    await nav(page, 'Overview').click();
    await page.getByRole('table').first().locator('tbody tr').nth(2).waitFor();
    await page.getByText('100.0 % done').waitFor();
    await screenshot(page, 'overview');
    await page.getByTestId('lang').selectOption('zh');
    await page.getByRole('heading', { level: 1, name: '总览' }).waitFor();
    expect(await page.getAttribute('html', 'lang')).toBe('zh-CN');
    await page.reload();
    await page.getByRole('heading', { level: 1, name: '总览' }).waitFor();
    await page.getByRole('table').first().locator('tbody tr').first().waitFor();
    await expectSingleLanguage(page, 'zh');
    await expectAccessible(page);
    await screenshot(page, 'overview-zh');
    const screens: Array<[string, string]> = [
      ['仓库管理', '仓库管理'],
      ['漏洞', '漏洞'],
      ['安全评分', '安全评分'],
      ['漏洞豁免', '漏洞豁免'],
      ['告警接收方', '告警接收方'],
      ['全量扫描计划', '全量扫描计划'],
    ];
    for (const [link, heading] of screens) {
      await nav(page, link, '主导航').click();
      await page.getByRole('heading', { level: 1, name: heading }).waitFor();
      await page.waitForFunction(() => !document.querySelector('[role="status"]')?.textContent?.includes('加载中'));
      await expectSingleLanguage(page, 'zh');
      await expectAccessible(page);
      if (link === '仓库管理') await screenshot(page, 'registries-zh');
    }
    // The same validation error, now in Chinese (the API's English text one click away).
    await nav(page, '仓库管理', '主导航').click();
    await page.getByRole('button', { name: '添加仓库' }).click();
    const zhDialog = page.getByRole('dialog', { name: '添加仓库' });
    await zhDialog.getByLabel('仓库', { exact: true }).fill('127.0.0.1');
    await zhDialog.getByLabel('端口').fill('0');
    await zhDialog.getByRole('button', { name: '保存' }).click();
    const alert = await zhDialog.getByRole('alert').innerText();
    expect(alert).toContain('输入无效');
    expect(alert).toContain('端口: 必须在 1 到 65535 之间');
    await screenshot(page, 'registry-form-error-zh');
    await zhDialog.getByRole('button', { name: '取消' }).click();

    // The image screen in Chinese, for the README.
    await page.goto(`${service.base}/image?repository=${encodeURIComponent(key)}&image=demo/debian&tag=12`);
    await page.getByTestId('findings').locator('tbody tr').first().waitFor();
    await page.locator('.chart canvas').first().waitFor();
    await expectSingleLanguage(page, 'zh');
    await screenshot(page, 'image-zh');

    expect(cspViolations).toEqual([]);
    await context.close();
  }, 600_000);

  it('When a browser prefers Chinese, then the console starts in Chinese, and keyboard users reach every control', async () => {
    const { context, page } = await newPage('zh-CN');
    await page.goto(`${service.base}/registries`);
    await page.getByRole('heading', { level: 1, name: '仓库管理' }).waitFor();
    expect(await page.getAttribute('html', 'lang')).toBe('zh-CN');

    // First Tab: the skip link; Enter moves to the content.
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('跳到正文');
    // Then the navigation, in order.
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('总览');
    // The add dialog opens and closes from the keyboard, and focus comes back to its button.
    await page.getByRole('button', { name: '添加仓库' }).focus();
    await page.keyboard.press('Enter');
    await page.getByRole('dialog', { name: '添加仓库' }).waitFor();
    expect(await page.evaluate(() => document.activeElement?.closest('dialog') !== null)).toBe(true);
    await page.keyboard.press('Escape');
    await page.getByRole('dialog').waitFor({ state: 'hidden' });
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('添加仓库');
    // Sort headers are buttons: Enter sorts.
    await nav(page, '漏洞', '主导航').click();
    await page.getByRole('button', { name: /^镜像数/ }).focus();
    await page.keyboard.press('Enter');
    await page.waitForFunction(
      () => document.querySelector('th[aria-sort="descending"] [data-sort="images"]') !== null,
    );
    await context.close();
  }, 120_000);
  it('When API_TOKENS and API_READ_TOKENS are set, then the console asks for a token, keeps it for the tab only, hides writes for a read token and shows them for a full one', async () => {
    const TOKEN = 'browser-test-token-0123456789abcdef';
    const READ_TOKEN = 'browser-test-read-token-0123456789abcdef';
    // The same app on another port, with a full and a read token (the real auth middleware, no stub).
    // It shares the running service's database connection: the service keeps one mongoose connection
    // per process, so a second start() here could not have a database of its own.
    const { app } = buildTestApp({
      API_TOKENS: TOKEN,
      API_READ_TOKENS: READ_TOKEN,
      CLAIR_URL: process.env.CLAIR_TEST_URL!,
    });
    const server = await new Promise<Server>((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    // A registry to read (the first test adds one; run alone, this test adds it).
    if ((await api<unknown[]>('GET', '/api/repository')).length === 0) {
      await api('POST', '/api/repository', { repository: '127.0.0.1', port: registry.port, kind: 'registry' });
    }
    async function signIn(page: Page, token: string): Promise<void> {
      await page.getByLabel('API token').fill(token);
      await page.getByRole('button', { name: 'Sign in' }).click();
    }
    try {
      const { context, page } = await newPage('en-US');
      await page.goto(`${base}/`);
      await page.getByRole('heading', { level: 1, name: 'Sign in' }).waitFor();
      await expectAccessible(page);
      await screenshot(page, 'token-prompt');
      await signIn(page, 'wrong-token');
      expect(await page.getByRole('alert').innerText()).toContain('Authentication required or refused');
      await page.getByRole('heading', { level: 1, name: 'Sign in' }).waitFor();
      await signIn(page, TOKEN);
      await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
      expect(await page.evaluate(() => sessionStorage.getItem('vulnscan.token'))).toBe(TOKEN);
      expect(await page.evaluate(() => localStorage.getItem('vulnscan.token'))).toBeNull();
      await page.reload();
      await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
      await nav(page, 'Registries').click();
      await page.getByRole('button', { name: 'Add a registry' }).waitFor();
      expect(await page.getByText('Read-only token').count()).toBe(0);
      // A new tab (another context) starts without the token.
      const other = await newPage('en-US');
      await other.page.goto(`${base}/`);
      await other.page.getByRole('heading', { level: 1, name: 'Sign in' }).waitFor();
      await other.context.close();
      await page.getByRole('button', { name: 'Sign out' }).click();
      await page.getByRole('heading', { level: 1, name: 'Sign in' }).waitFor();
      expect(await page.evaluate(() => sessionStorage.getItem('vulnscan.token'))).toBeNull();

      // The read token (API_READ_TOKENS): the service answers its writes 403 (5007); reads work and
      // every write action is hidden.
      await signIn(page, READ_TOKEN);
      await page.getByText('Read-only token').waitFor();
      await nav(page, 'Overview').click();
      await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
      expect(await page.getByRole('button', { name: 'Scan all registries' }).count()).toBe(0);
      await nav(page, 'Registries').click();
      await page.getByRole('heading', { level: 1, name: 'Registries' }).waitFor();
      await page.getByRole('row').nth(1).waitFor();
      expect(await page.getByRole('button', { name: 'Add a registry' }).count()).toBe(0);
      expect(await page.getByRole('button', { name: 'Delete' }).count()).toBe(0);
      expect(await page.getByRole('button', { name: 'Scan now' }).count()).toBe(0);
      await nav(page, 'Score weights').click();
      await page.getByLabel('Critical').waitFor();
      expect(await page.getByRole('button', { name: 'Save' }).count()).toBe(0);
      await page.getByRole('button', { name: 'Sign out' }).click();
      await page.getByRole('heading', { level: 1, name: 'Sign in' }).waitFor();

      // The full token again: the same screens show their write actions.
      await signIn(page, TOKEN);
      await nav(page, 'Overview').click();
      await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
      await page.getByRole('button', { name: 'Scan all registries' }).waitFor();
      expect(await page.getByText('Read-only token').count()).toBe(0);
      await nav(page, 'Registries').click();
      await page.getByRole('button', { name: 'Add a registry' }).waitFor();
      await page.getByRole('row').nth(1).waitFor();
      expect(await page.getByRole('button', { name: 'Delete' }).count()).toBeGreaterThan(0);
      expect(await page.getByRole('button', { name: 'Scan now' }).count()).toBeGreaterThan(0);
      await nav(page, 'Score weights').click();
      await page.getByRole('button', { name: 'Save' }).waitFor();
      await context.close();
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  }, 180_000);
});
