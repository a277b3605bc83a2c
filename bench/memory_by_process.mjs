// Where a browser's memory goes while a page uploads many files: the resident memory of each
// Chromium process by its kind (browser, renderer, GPU, network and other utilities), idle and
// at its peak, and the page's JS heap. For the 10,000-file target of issue 30: is the memory the
// page's or the browser's? Not a test.
//
//   node bench/memory_by_process.mjs PAGE_URL|floor|bare:UPPY_ORIGIN|bare-xhr:UPPY_ORIGIN FILE...
// PAGE_URL is Hoist's page, or one of bench/uppy/server.mjs's Uppy pages (`/?v=6`), each waited
// for until every file is uploaded. Two floors: `floor` is a blank page with only a file input,
// the files picked and nothing else done with them, held for 5 s; `bare:` is the least a page can
// do to upload them: a file input and a dozen lines of script that ask bench/uppy/server.mjs for
// each file's presigned PUT and send it with fetch (`bare-xhr:`, with XMLHttpRequest), six at
// once, drawing and keeping nothing.
// --allocators adds Chromium's own account of the renderer's memory by allocator (malloc, the
// partitions of PartitionAlloc, Blink's garbage-collected heap, V8…): memory-infra dumps taken at
// idle and every 10 s while the files go, the one with the largest renderer kept.
// Prints one JSON line (MiB).
import { createRequire } from 'node:module';
import { rssByKind as byKind, sum } from './chromium_memory.mjs';
// Playwright as the end-to-end tests install it.
const require = createRequire(new URL('../end2end/package.json', import.meta.url));
const { chromium } = require('@playwright/test');

const args = process.argv.slice(2);
const allocatorsFlag = args.includes('--allocators');
const [url, ...files] = args.filter((a) => a !== '--allocators');

const mib = (b) => Math.round((b / 2 ** 20) * 10) / 10;
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--headless', '--disable-gpu'],
});
const page = await browser.newPage();
const pageKind = url === 'floor' ? 'floor' : /^bare(-xhr)?:/.test(url) ? 'bare' : /[?&]v=\d/.test(url) ? 'uppy' : 'hoist';
if (pageKind === 'floor') {
  await page.setContent('<input type="file" multiple aria-label="Choose files">');
} else if (pageKind === 'bare') {
  // Any page of the Uppy backend's origin (its signing route answers same-origin pages); the
  // stylesheet also makes the backend sign Uppy 5's presigned PUT rather than Uppy 6's form.
  const [how, ...origin] = url.split(':');
  await page.goto(`${origin.join(':')}/uppy5.css`);
  await page.setContent('<input type="file" multiple aria-label="Choose files">');
  await page.evaluate((viaXhr) => {
    // `bare-xhr:` sends with XMLHttpRequest and listens to its upload progress, as Hoist's and
    // Uppy's engines do (fetch has no upload progress).
    const xhrPut = (url, file, headers) =>
      new Promise((resolve) => {
        const xhr = new XMLHttpRequest();
        xhr.open('PUT', url);
        for (const [k, v] of Object.entries(headers ?? {})) xhr.setRequestHeader(k, v);
        xhr.upload.onprogress = () => {};
        xhr.onloadend = () => resolve({ ok: xhr.status >= 200 && xhr.status < 300 });
        xhr.send(file);
      });
    const input = document.querySelector('input');
    input.addEventListener('change', async () => {
      const files = [...input.files];
      let next = 0;
      let done = 0;
      const send = async () => {
        while (next < files.length) {
          const file = files[next++];
          const type = file.type || 'application/octet-stream';
          try {
            const params = await (await fetch(`/s3/params?filename=${encodeURIComponent(file.name)}&type=${encodeURIComponent(type)}`)).json();
            const put = viaXhr
              ? await xhrPut(params.url, file, params.headers)
              : await fetch(params.url, { method: 'PUT', body: file, headers: params.headers });
            if (put.ok) done++;
          } catch {
            // Counted as not done below.
          }
        }
      };
      await Promise.all(Array.from({ length: 6 }, send));
      document.body.dataset.done = String(done);
      document.body.dataset.failed = String(files.length - done);
    });
  }, how === 'bare-xhr');
} else {
  await page.goto(url);
  const ready = pageKind === 'uppy' ? 'body[data-ready="true"]' : 'main[data-hydrated="true"]';
  await page.locator(ready).waitFor({ state: 'attached' });
}
await page.waitForTimeout(1000);
const dumps = allocatorsFlag ? await memoryDumps(browser) : null;
await dumps?.take();
const idle = byKind();
const peak = { ...idle };
let peakTotal = sum(idle);
let heapPeak = 0;
const sampler = setInterval(async () => {
  const now = byKind();
  for (const [k, v] of Object.entries(now)) peak[k] = Math.max(peak[k] ?? 0, v);
  peakTotal = Math.max(peakTotal, sum(now));
  try {
    heapPeak = Math.max(heapPeak, await page.evaluate(() => performance.memory?.usedJSHeapSize ?? 0));
  } catch {
    // The page was busy or navigating.
  }
}, 250);
const dumper = dumps ? setInterval(() => dumps.take(), 10_000) : null;
const started = Date.now();
await page.getByLabel('Choose files').setInputFiles(files);
if (pageKind === 'floor') {
  await page.waitForFunction((n) => document.querySelector('input').files.length === n, files.length);
  await page.waitForTimeout(5000);
} else if (pageKind === 'hoist') {
  await page.locator(`section.total[data-uploaded="${files.length}"]`).waitFor({ state: 'attached', timeout: 900_000 });
} else {
  // Uppy's pages and the bare ones mark `done` once every file has ended, uploaded or not.
  await page.locator('body[data-done]').waitFor({ state: 'attached', timeout: 900_000 });
  const done = Number(await page.locator('body').getAttribute('data-done'));
  if (done !== files.length) {
    const error = await page.locator('body').getAttribute('data-error');
    console.error(`only ${done} of ${files.length} files were uploaded${error ? `: ${error}` : ''}`);
    process.exit(1);
  }
}
clearInterval(sampler);
clearInterval(dumper);
await dumps?.take();
const allocators = dumps ? await dumps.renderer() : undefined;
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
const idleTotal = sum(idle);
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
    renderer_allocators_mib: allocators,
  }),
);
await browser.close();

/** memory-infra dumps through the browser's own tracing; `renderer()` ends the trace. */
async function memoryDumps(browser) {
  const cdp = await browser.newBrowserCDPSession();
  const events = [];
  cdp.on('Tracing.dataCollected', ({ value }) => events.push(...value));
  await cdp.send('Tracing.start', {
    traceConfig: {
      includedCategories: ['disabled-by-default-memory-infra'],
      memoryDumpConfig: { triggers: [] },
    },
  });
  let pending = Promise.resolve();
  return {
    take() {
      pending = pending.then(() => cdp.send('Tracing.requestMemoryDump', { levelOfDetail: 'detailed' }).catch(() => {}));
      return pending;
    },
    async renderer() {
      await pending;
      const complete = new Promise((resolve) => cdp.once('Tracing.tracingComplete', resolve));
      await cdp.send('Tracing.end');
      await complete;
      const renderers = new Set(
        events.filter((e) => e.ph === 'M' && e.name === 'process_name' && e.args?.name === 'Renderer').map((e) => e.pid),
      );
      // Top-level allocators of each renderer dump, in bytes.
      const sized = events
        .filter((e) => e.ph === 'v' && renderers.has(e.pid) && e.args?.dumps?.allocators)
        .map((e) => {
          const top = {};
          for (const [name, dump] of Object.entries(e.args.dumps.allocators)) {
            const size = dump.attrs?.size?.value;
            if (!name.includes('/') && size) top[name] = parseInt(size, 16);
          }
          return { pid: e.pid, ts: e.ts, top };
        });
      if (sized.length === 0) return null;
      const total = (d) => sum(d.top);
      // The page's renderer: the one that grew to the most.
      const largest = sized.reduce((a, b) => (total(b) > total(a) ? b : a));
      const first = sized.filter((d) => d.pid === largest.pid).reduce((a, b) => (b.ts < a.ts ? b : a));
      const names = Object.keys(largest.top).filter((n) => Math.abs(largest.top[n] - (first.top[n] ?? 0)) >= 2 ** 19 || largest.top[n] >= 2 ** 22);
      return Object.fromEntries(
        names.sort().map((n) => [n, { idle: mib(first.top[n] ?? 0), largest: mib(largest.top[n]), growth: mib(largest.top[n] - (first.top[n] ?? 0)) }]),
      );
    },
  };
}
