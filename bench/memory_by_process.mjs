// Where a browser's memory goes while a page uploads many files: the resident memory of each
// Chromium process by its kind (browser, renderer, GPU, network and other utilities), idle and
// at its peak, and the page's JS heap. For the 10,000-file target of issue 30: is the memory the
// page's or the browser's? Not a test.
//
//   node bench/memory_by_process.mjs PAGE_URL FILE...
// Prints one JSON line (MiB).
import { createRequire } from 'node:module';
import { readdirSync, readFileSync } from 'node:fs';
// Playwright as the end-to-end tests install it.
const require = createRequire(new URL('../end2end/package.json', import.meta.url));
const { chromium } = require('@playwright/test');

const [url, ...files] = process.argv.slice(2);

/** Resident memory by kind of Chromium process, in bytes (from /proc). */
function byKind() {
  const kinds = {};
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      if (!readFileSync(`/proc/${pid}/comm`, 'utf8').trim().startsWith('chrom')) continue;
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      const type = /--type=([\w-]+)/.exec(cmd)?.[1] ?? 'browser';
      const sub = /--utility-sub-type=([\w.]+)/.exec(cmd)?.[1];
      const kind = sub ? `${type}:${sub.split('.').pop()}` : type;
      const rss = readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmRSS:\s+(\d+) kB/m);
      if (rss) kinds[kind] = (kinds[kind] ?? 0) + Number(rss[1]) * 1024;
    } catch {
      // The process ended while we looked.
    }
  }
  return kinds;
}

const mib = (b) => Math.round((b / 2 ** 20) * 10) / 10;
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--headless', '--disable-gpu'],
});
const page = await browser.newPage();
await page.goto(url);
await page.locator('main[data-hydrated="true"]').waitFor({ state: 'attached' });
await page.waitForTimeout(1000);
const idle = byKind();
const peak = { ...idle };
let peakTotal = Object.values(idle).reduce((a, b) => a + b, 0);
let heapPeak = 0;
const sampler = setInterval(async () => {
  const now = byKind();
  for (const [k, v] of Object.entries(now)) peak[k] = Math.max(peak[k] ?? 0, v);
  peakTotal = Math.max(peakTotal, Object.values(now).reduce((a, b) => a + b, 0));
  try {
    heapPeak = Math.max(heapPeak, await page.evaluate(() => performance.memory?.usedJSHeapSize ?? 0));
  } catch {
    // The page was busy or navigating.
  }
}, 250);
const started = Date.now();
await page.getByLabel('Choose files').setInputFiles(files);
await page
  .locator(`section.total[data-uploaded="${files.length}"]`)
  .waitFor({ state: 'attached', timeout: 900_000 });
clearInterval(sampler);
// The page's WebAssembly memory (the engine's own state), which the JS heap does not count: a
// linear memory only grows, so its size now is its peak.
const cdp = await page.context().newCDPSession(page);
const proto = await cdp.send('Runtime.evaluate', { expression: 'WebAssembly.Memory.prototype' });
const found = await cdp.send('Runtime.queryObjects', { prototypeObjectId: proto.result.objectId });
const sizes = await cdp.send('Runtime.callFunctionOn', {
  objectId: found.objects.objectId,
  functionDeclaration: 'function () { return this.map((m) => m.buffer.byteLength); }',
  returnByValue: true,
});
const wasmBytes = sizes.result.value.reduce((a, b) => a + b, 0);
const idleTotal = Object.values(idle).reduce((a, b) => a + b, 0);
const kinds = Object.keys(peak).sort();
console.log(
  JSON.stringify({
    files: files.length,
    seconds: (Date.now() - started) / 1000,
    idle_mib: Object.fromEntries(kinds.map((k) => [k, mib(idle[k] ?? 0)])),
    peak_mib: Object.fromEntries(kinds.map((k) => [k, mib(peak[k])])),
    growth_mib: Object.fromEntries(kinds.map((k) => [k, mib(peak[k] - (idle[k] ?? 0))])),
    total_idle_mib: mib(idleTotal),
    total_peak_mib: mib(peakTotal),
    total_growth_mib: mib(peakTotal - idleTotal),
    js_heap_peak_mib: mib(heapPeak),
    wasm_memory_mib: mib(wasmBytes),
  }),
);
await browser.close();
