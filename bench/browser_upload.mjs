// Uploads files from headless Chromium through an uploader's page — Hoist's, or Uppy's
// (bench/uppy) — once, and prints one JSON line: the seconds from picking the files to every
// one being done (for Hoist: verified by the server), the CPU each party used, and, when
// asked, the browser's peak memory. Network emulation (CDP) applies to everything the page
// sends, so both uploaders meet the same link.
//   node bench/browser_upload.mjs hoist|uppy PAGE_URL [--latency MS --mbps N] [--memory] FILE...
// An upload not done after BENCH_DEADLINE_S (180) seconds is reported as stalled, not timed.
import { createRequire } from 'node:module';
import { readdirSync, readFileSync } from 'node:fs';
import { basename } from 'node:path';

const require = createRequire(new URL('../end2end/package.json', import.meta.url));
const { chromium } = require('@playwright/test');

const args = process.argv.slice(2);
const [app, pageUrl] = args.splice(0, 2);
const option = (name) => {
  const i = args.indexOf(name);
  return i < 0 ? null : args.splice(i, 2)[1];
};
const latency = Number(option('--latency') ?? 0);
const mbps = Number(option('--mbps') ?? 0);
const memoryFlag = args.includes('--memory');
const files = args.filter((a) => a !== '--memory');

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
const parties = ['chrom', 'garage', 'hoist', 'node'];
const cpuNow = () => Object.fromEntries(parties.map((p) => [p, cpuSeconds(p)]));

// Every file done, or one failed: read from the page, as a person would see it.
const finished = {
  hoist: (count) => {
    const bars = [...document.querySelectorAll('[role=progressbar][aria-label^="Upload progress for "]')];
    if (document.querySelector('.task-error')) return 'failed';
    return bars.length === count && bars.every((b) => b.getAttribute('aria-valuenow') === '100') ? 'done' : null;
  },
  uppy: (count) => {
    if (document.body.dataset.error) return 'failed';
    return document.body.dataset.done === String(count) ? 'done' : null;
  },
}[app];
const ready = { hoist: 'main[data-hydrated="true"]', uppy: 'body[data-ready="true"]' }[app];

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--headless', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
});
const context = await browser.newContext();
const page = await context.newPage();
await page.goto(pageUrl);
await page.locator(ready).waitFor({ state: 'attached' });
const cdp = await context.newCDPSession(page);
if (latency || mbps) {
  const bytesPerSecond = mbps ? (mbps * 1e6) / 8 : -1;
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions', {
    offline: false,
    latency,
    downloadThroughput: bytesPerSecond,
    uploadThroughput: bytesPerSecond,
  });
}
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
// The page's main thread (CDP Performance metrics): what the uploader's own code, the DOM and
// the browser's work for it cost on the one thread a page has.
const mainThread = async () =>
  Object.fromEntries((await cdp.send('Performance.getMetrics')).metrics.map((m) => [m.name, m.value]));
const threadBefore = await mainThread();
const cpuBefore = cpuNow();
const started = performance.now();
await page.getByLabel('Choose files').setInputFiles(files);
const deadline = Number(process.env.BENCH_DEADLINE_S ?? 180) * 1000;
const outcome = await page
  .waitForFunction(finished, files.length, { timeout: deadline, polling: 50 })
  .catch(() => null);
if (outcome === null) {
  // A request that never got an answer: worth a line in the report, not a number in a median.
  console.log(JSON.stringify({ seconds: null, stalled: true, files: files.length }));
  await browser.close();
  process.exit(0);
}
const seconds = (performance.now() - started) / 1000;
const cpuAfter = cpuNow();
const threadAfter = await mainThread();
const busy = (name) => +(threadAfter[name] - threadBefore[name]).toFixed(3);
if (sampler) clearInterval(sampler);
if ((await outcome.jsonValue()) !== 'done') {
  const why = app === 'hoist'
    ? await page.locator('.task-error').first().textContent()
    : await page.evaluate(() => document.body.dataset.error);
  throw new Error(`${app}: an upload failed: ${why}`);
}
await browser.close();
const cpu = Object.fromEntries(parties.map((p) => [p, +(cpuAfter[p] - cpuBefore[p]).toFixed(2)]));
console.log(JSON.stringify({
  seconds,
  cpu,
  files: files.length,
  name: basename(files[0]),
  main_thread: { tasks: busy('TaskDuration'), script: busy('ScriptDuration'), layout: busy('LayoutDuration') },
  memory: memoryFlag ? { rssBefore, rssPeak, heapPeak } : null,
}));
