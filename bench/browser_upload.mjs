// Uploads one file through Hoist from headless Chromium, `runs` times, and prints one JSON line:
// seconds per run (from picking the file to the server having verified it) and, when asked,
// the browser's peak memory during the upload.
//   node bench/browser_upload.mjs BASE_URL FILE RUNS [--memory]
import { createRequire } from 'node:module';
import { readdirSync, readFileSync } from 'node:fs';
import { basename } from 'node:path';

const require = createRequire(new URL('../end2end/package.json', import.meta.url));
const { chromium } = require('@playwright/test');

const [base, file, runsArg, memoryFlag] = process.argv.slice(2);
const runs = Number(runsArg ?? 3);
const name = basename(file);

/** Resident memory of every Chromium process, in bytes (from /proc). */
function chromiumRss() {
  let total = 0;
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
      if (!comm.startsWith('chrom')) continue;
      const rss = readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmRSS:\s+(\d+) kB/m);
      if (rss) total += Number(rss[1]) * 1024;
    } catch {
      // The process ended while we looked.
    }
  }
  return total;
}

/** CPU seconds used so far by every process whose name starts with `prefix` (/proc, 100 Hz). */
function cpuSeconds(prefix) {
  let ticks = 0;
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      if (!comm.startsWith(prefix)) continue;
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // The process ended while we looked.
    }
  }
  return ticks / 100;
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--headless', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
});
const seconds = [];
const cpu = [];
let memory = null;
for (let i = 0; i < runs; i++) {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(base + '/');
  await page.locator('main[data-hydrated="true"]').waitFor({ state: 'attached' });
  const cdp = await context.newCDPSession(page);
  await cdp.send('Performance.enable');
  const rssBefore = chromiumRss();
  let rssPeak = rssBefore;
  let heapPeak = 0;
  const sampler = memoryFlag
    ? setInterval(async () => {
        rssPeak = Math.max(rssPeak, chromiumRss());
        const { metrics } = await cdp.send('Performance.getMetrics').catch(() => ({ metrics: [] }));
        const heap = metrics.find((m) => m.name === 'JSHeapUsedSize');
        if (heap) heapPeak = Math.max(heapPeak, heap.value);
      }, 250)
    : null;
  const cpuBefore = { chromium: cpuSeconds('chrom'), garage: cpuSeconds('garage'), hoist: cpuSeconds('hoist') };
  const started = performance.now();
  await page.getByLabel('Choose files').setInputFiles(file);
  const bar = page.getByRole('progressbar', { name: `Upload progress for ${name}` });
  await bar.waitFor();
  await page.waitForFunction(
    (label) => document.querySelector(`[aria-label="${label}"]`)?.getAttribute('aria-valuenow') === '100' ||
      document.querySelector('.task-error') !== null,
    `Upload progress for ${name}`,
    { timeout: 0, polling: 100 },
  );
  const elapsed = (performance.now() - started) / 1000;
  if (sampler) clearInterval(sampler);
  const error = await page.locator('.task-error').textContent().catch(() => null);
  if (error) throw new Error(`upload failed: ${error}`);
  seconds.push(elapsed);
  cpu.push({
    chromium: cpuSeconds('chrom') - cpuBefore.chromium,
    garage: cpuSeconds('garage') - cpuBefore.garage,
    hoist: cpuSeconds('hoist') - cpuBefore.hoist,
  });
  if (memoryFlag) memory = { rssBefore, rssPeak, heapPeak };
  await context.close();
}
await browser.close();
console.log(JSON.stringify({ seconds, cpu, memory }));
