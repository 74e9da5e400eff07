/**
 * The dashboard page (`GET /`): a self-contained document, and in a real browser (Debian's
 * chromium driven by playwright-core) its numbers move and its charts fill while a writer posts.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import * as vm from 'node:vm';
import { chromium, type Browser } from 'playwright-core';
import { afterEach, describe, expect, it } from 'vitest';
import { startService, type Service } from '../src/service/server.js';
import { ROOT, skipTitle, tmpDir } from './helpers.js';

const CHROMIUM = '/usr/bin/chromium';
const HAS_CHROMIUM = fs.existsSync(CHROMIUM);

// What the functions playwright runs in the page use (tsconfig has no DOM lib).
declare const document: { querySelector(selector: string): any; getElementById(id: string): any };
const ARTIFACTS = path.join(ROOT, 'test', 'artifacts');

const services: Service[] = [];
afterEach(async () => {
  for (const s of services.splice(0)) await s.close();
});

async function serve(statsIntervalMs = 1000): Promise<Service> {
  const s = await startService({ dir: tmpDir('aof-dashboard-'), port: 0, statsIntervalMs });
  services.push(s);
  return s;
}

describe('the dashboard page', () => {
  it('is one HTML document with its script and styles inline and nothing loaded from elsewhere', async () => {
    const s = await serve();
    const r = await fetch(`${s.url}/`);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const html = await r.text();
    expect(html).toMatch(/^<!doctype html>/);
    expect(html).not.toMatch(/<script[^>]+src=|<link\b|@import|url\(|https?:\/\/(?!www\.w3\.org\/2000\/svg)/);
    const scripts = [...html.matchAll(/<script>([\s\S]*?)<\/script>/g)].map((m) => m[1]!);
    expect(scripts).toHaveLength(1);
    expect(() => new vm.Script(scripts[0]!)).not.toThrow(); // it parses
    expect(scripts[0]).toContain("new EventSource('stats/events'");
    for (const id of ['writes-total', 'bytes-total', 'write-rate', 'tailers', 'max-lag', 'mapped-memory', 'blocking-grows', 'flush-latency']) {
      expect(html).toContain(`data-testid="${id}"`);
    }
  });
});

describe.runIf(HAS_CHROMIUM)(skipTitle(HAS_CHROMIUM, 'the dashboard in chromium', `${CHROMIUM} is missing: install Debian's chromium (.ci/run does)`), () => { // NOTE: skipped when Debian's chromium is not installed (.ci/run installs it)
  it('shows write counts and bytes that keep rising and charts that fill while a writer posts, and saves a screenshot', async () => {
    const s = await serve(200);
    // A subscriber, so the tailer and lag tiles have something to show.
    await fetch(`${s.url}/streams/events`, { method: 'POST', body: 'start\n' });
    const follower = http.get(`${s.url}/streams/events?from=0`);
    let writing = true;
    const writer = (async () => {
      const line = Buffer.from(`${'x'.repeat(99)}\n`);
      for (let i = 0; writing; i++) {
        await fetch(`${s.url}/streams/events`, { method: 'POST', body: line });
        if (i % 10 === 0) {
          await fetch(`${s.url}/streams/orders`, { method: 'POST', body: `{"i":${i}}\n`, headers: { 'content-type': 'application/x-ndjson' } });
        }
      }
    })();
    let browser: Browser | undefined;
    try {
      browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
      const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
      const problems: string[] = [];
      page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
      page.on('console', (m) => {
        if (m.type() === 'error') problems.push(`console: ${m.text()}`);
      });
      await page.goto(`${s.url}/`);

      const value = (id: string) => page.$eval(`[data-testid="${id}"]`, (el) => Number((el as any).dataset.value));
      const risesAbove = (id: string, previous: number) => page.waitForFunction(
        ([testId, prev]) => Number((document.querySelector(`[data-testid="${testId}"]`) as any).dataset.value) > (prev as number),
        [id, previous] as const, { timeout: 20_000 });
      // Each tile's number moves at least twice after the page loaded.
      for (const id of ['writes-total', 'bytes-total', 'records-total', 'updates']) {
        const seen = [await value(id)];
        for (let i = 0; i < 2; i++) {
          await risesAbove(id, seen.at(-1)!);
          seen.push(await value(id));
        }
        expect(seen[2]!, id).toBeGreaterThan(seen[1]!);
        expect(seen[1]!, id).toBeGreaterThan(seen[0]!);
      }
      await page.waitForFunction(() => document.getElementById('status')?.textContent === 'live');
      // The SSE-fed charts have points, and the write rate is above zero.
      await page.waitForFunction(() => Number(document.querySelector('[data-testid="chart-writes"]')?.getAttribute('data-points')) >= 3);
      await page.waitForFunction(() => Number((document.querySelector('[data-testid="write-rate"]') as any).dataset.value) > 0);
      const writesLine = await page.$eval('[data-testid="chart-writes"] polyline[data-series="AOF writes"]', (el) => el.getAttribute('points') ?? '');
      const ys = writesLine.trim().split(' ').map((p: string) => Number(p.split(',')[1]));
      expect(ys.length).toBeGreaterThanOrEqual(3);
      expect(Math.min(...ys)).toBeLessThan(118); // a non-zero rate is drawn above the baseline
      for (const chart of ['bytes', 'tailers', 'lag', 'memory', 'grows', 'flush']) {
        expect(Number(await page.$eval(`[data-testid="chart-${chart}"]`, (el) => el.getAttribute('data-points'))), chart).toBeGreaterThanOrEqual(2);
      }
      expect(await value('tailers')).toBe(1);
      expect(await value('subscribers')).toBe(1);
      expect(await value('mapped-memory')).toBeGreaterThan(0);
      expect(await page.locator('#subscribers tbody tr').count()).toBe(1);
      expect(await page.locator('#streams tbody tr').count()).toBe(2);

      fs.mkdirSync(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard.png'), fullPage: true });
      expect(problems).toEqual([]);
    } finally {
      writing = false;
      await writer;
      follower.destroy();
      await browser?.close();
    }
  }, 60_000);
});
