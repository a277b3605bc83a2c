// Uploads files from headless Chromium through an uploader's page — Hoist's, or Uppy's
// (bench/uppy) — once, and prints one JSON line: the seconds from picking the files to every
// one being done (for Hoist: verified by the server), the CPU each party used, and, when
// asked, the browser's peak memory. Network emulation (CDP) applies to everything the page
// sends, so both uploaders meet the same link.
//   node bench/browser_upload.mjs hoist|uppy PAGE_URL [--latency MS --mbps N] [--memory]
//        [--cpu-profile OUT.cpuprofile] [--trace OUT.json] [--responsiveness] FILE...
// --cpu-profile writes the page's sampled CPU profile (DevTools' format; bench/profile_top.py
// sums it by function) for the span from picking to done; --trace a DevTools timeline trace
// (bench/trace_top.py sums the page's main thread by what it did: script, style, layout…). --responsiveness clicks an empty
// spot of the page every 250 ms while the files go and reports how long each click waited for
// the page's thread (the event's time to its handler), and the page's long tasks (over 50 ms).
// An upload not done after BENCH_DEADLINE_S (180) seconds is reported as stalled, not timed.
import { createRequire } from 'node:module';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { rssTotal } from './chromium_memory.mjs';

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
const profileOut = option('--cpu-profile');
const traceOut = option('--trace');
const memoryFlag = args.includes('--memory');
const responsiveFlag = args.includes('--responsiveness');
const files = args.filter((a) => a !== '--memory' && a !== '--responsiveness');

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
    if (document.querySelector('.task-error')) return 'failed';
    // A large queue draws only the rows in view: its summary counts every file.
    const total = document.querySelector('section.total[data-files]');
    if (total) {
      if (Number(total.dataset.failed) > 0) return 'failed';
      return Number(total.dataset.files) === count && Number(total.dataset.uploaded) === count ? 'done' : null;
    }
    // Builds before the summary drew a bar for every file.
    const bars = [...document.querySelectorAll('[role=progressbar][aria-label^="Upload progress for "]')];
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
const rssBefore = rssTotal();
let rssPeak = rssBefore;
let heapPeak = 0;
const sampler = memoryFlag
  ? setInterval(async () => {
      rssPeak = Math.max(rssPeak, rssTotal());
      const { metrics } = await cdp.send('Performance.getMetrics').catch(() => ({ metrics: [] }));
      const heap = metrics.find((m) => m.name === 'JSHeapUsedSize');
      if (heap) heapPeak = Math.max(heapPeak, heap.value);
    }, 250)
  : null;
// The page's main thread (CDP Performance metrics): what the uploader's own code, the DOM and
// the browser's work for it cost on the one thread a page has.
const mainThread = async () =>
  Object.fromEntries((await cdp.send('Performance.getMetrics')).metrics.map((m) => [m.name, m.value]));
if (profileOut) {
  await cdp.send('Profiler.enable');
  await cdp.send('Profiler.setSamplingInterval', { interval: 200 });
  await cdp.send('Profiler.start');
}
if (responsiveFlag) {
  await page.evaluate(() => {
    window.__waits = [];
    window.__long = [];
    window.__slow = [];
    window.__from = performance.now();
    // Capture phase on the window: before anything of the page's own can stop it.
    window.addEventListener('click', (e) => window.__waits.push(performance.now() - e.timeStamp), true);
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) {
        window.__long.push(e.duration);
        if (e.duration > 100) window.__slow.push([+((e.startTime - window.__from) / 1000).toFixed(2), Math.round(e.duration)]);
      }
    }).observe({ type: 'longtask' });
  });
}
let clicking = responsiveFlag;
const clicker = (async () => {
  while (clicking) {
    // The page's top-left corner: no control there, so the click changes nothing.
    await page.mouse.click(2, 2).catch(() => {});
    await new Promise((r) => setTimeout(r, 250));
  }
})();
if (traceOut) {
  await browser.startTracing(page, { path: traceOut, categories: ['devtools.timeline', 'disabled-by-default-devtools.timeline', 'v8', 'blink'] });
}
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
clicking = false;
await clicker;
const responsiveness = responsiveFlag
  ? await page.evaluate(() => {
      const waits = [...window.__waits].sort((a, b) => a - b);
      return {
        clicks: waits.length,
        click_p50_ms: +(waits[Math.floor(waits.length / 2)] ?? NaN).toFixed(1),
        click_max_ms: +(waits[waits.length - 1] ?? NaN).toFixed(1),
        long_tasks: window.__long.length,
        longest_task_ms: +Math.max(0, ...window.__long).toFixed(1),
        tasks_over_100ms: window.__long.filter((d) => d > 100).length,
        // Each of them: [seconds after the measuring began (just before the picking), milliseconds].
        over_100ms_at: window.__slow,
      };
    })
  : null;
const cpuAfter = cpuNow();
const threadAfter = await mainThread();
const busy = (name) => +(threadAfter[name] - threadBefore[name]).toFixed(3);
if (sampler) clearInterval(sampler);
if (traceOut) await browser.stopTracing();
if (profileOut) {
  const { profile } = await cdp.send('Profiler.stop');
  writeFileSync(profileOut, JSON.stringify(profile));
}
if ((await outcome.jsonValue()) !== 'done') {
  const why = app === 'hoist'
    ? await page.locator('.task-error, .queue-failures li').first().textContent({ timeout: 5000 }).catch(() => 'a file failed')
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
  responsiveness,
}));
