import { expect, Page, Request, TestInfo } from '@playwright/test';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';

export const MIB = 1024 * 1024;

export function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Bytes the app server has read so far (from sockets and files alike), from /proc/<pid>/io. */
export function appBytesRead(): number {
  const pid = process.env.HOIST_SERVER_PID;
  if (!pid) throw new Error('HOIST_SERVER_PID is not set: run the tests with scripts/test.sh');
  const io = readFileSync(`/proc/${pid}/io`, 'utf8');
  const match = io.match(/^rchar:\s+(\d+)$/m);
  if (!match) throw new Error(`no rchar in /proc/${pid}/io`);
  return Number(match[1]);
}

/** Opens the app and waits until it is interactive (hydrated). */
export async function openApp(page: Page, base = ''): Promise<void> {
  await page.goto(base + '/');
  await expect(page.locator('main[data-hydrated="true"]')).toBeAttached();
}

/** The library's row for a file name. */
export function libraryRow(page: Page, name: string) {
  return page.locator('.library tbody tr').filter({ has: page.locator('td.name', { hasText: name }) });
}

/** The file's row says `failed`, with `message` next to it. Returns the row. */
export async function expectFailed(page: Page, name: string, message: string | RegExp, timeout?: number) {
  const task = page.locator('.task', { hasText: name });
  await expect(task.locator('.task-status')).toHaveText('failed', { timeout });
  await expect(task.getByRole('alert')).toHaveText(message);
  return task;
}

/** A file of `size` random bytes in the test's output folder. Returns its path and bytes. */
export function randomFile(testInfo: TestInfo, name: string, size: number): { path: string; data: Buffer } {
  const data = randomBytes(size);
  const path = testInfo.outputPath(name);
  writeFileSync(path, data);
  return { path, data };
}

/** The progress bar of one file. */
export function bar(page: Page, name: string) {
  return page.getByRole('progressbar', { name: `Upload progress for ${name}` });
}

/** The bar's value now. */
export async function percent(page: Page, name: string): Promise<number> {
  return Number(await bar(page, name).getAttribute('aria-valuenow'));
}

/** Waits until the file's bar shows at least `atLeast` percent. */
export async function untilPercent(page: Page, name: string, atLeast: number, timeout = 120_000) {
  await expect.poll(() => percent(page, name), { timeout, intervals: [50] }).toBeGreaterThanOrEqual(atLeast);
}

/** Starts sampling every progress bar on the page (every 20 ms), for `barsNeverWentBack`. */
export async function recordBars(page: Page) {
  await page.evaluate(() => {
    const w = window as unknown as { __bars: Record<string, number[]> };
    w.__bars = {};
    setInterval(() => {
      document.querySelectorAll('[role=progressbar]').forEach((b) => {
        const label = b.getAttribute('aria-label') ?? '';
        (w.__bars[label] ??= []).push(Number(b.getAttribute('aria-valuenow')));
      });
    }, 20);
  });
}

/**
 * Every sampled bar (but those labelled in `except`) only ever went forwards. Returns how many
 * samples were checked; with none, nothing was proven, so that fails too.
 */
export async function barsNeverWentBack(page: Page, except: string[] = []): Promise<number> {
  const bars = await page.evaluate(() => (window as unknown as { __bars: Record<string, number[]> }).__bars);
  let samples = 0;
  for (const [label, values] of Object.entries(bars)) {
    if (except.includes(label)) continue;
    samples += values.length;
    values.forEach((v, i) => {
      if (i > 0) expect(v, `${label} went from ${values[i - 1]} back to ${v}`).toBeGreaterThanOrEqual(values[i - 1]);
    });
  }
  expect(samples, 'no progress bar was ever sampled').toBeGreaterThan(10);
  return samples;
}

/**
 * Counts, in the page, every PUT sent while the browser says it is offline: read at the moment
 * `send` is called, so no event ordering can hide one. `sentOffline()` reads the count.
 */
export async function countPutsSentOffline(page: Page) {
  await page.evaluate(() => {
    const w = window as unknown as { __sentOffline: number };
    w.__sentOffline = 0;
    const proto = XMLHttpRequest.prototype as XMLHttpRequest & { __isPut?: boolean };
    const open = proto.open;
    const send = proto.send;
    proto.open = function (this: XMLHttpRequest & { __isPut?: boolean }, method: string, ...rest: unknown[]) {
      this.__isPut = method.toUpperCase() === 'PUT';
      return (open as (...a: unknown[]) => void).call(this, method, ...rest);
    } as typeof proto.open;
    proto.send = function (this: XMLHttpRequest & { __isPut?: boolean }, body?: Document | XMLHttpRequestBodyInit | null) {
      if (this.__isPut && !navigator.onLine) w.__sentOffline += 1;
      return send.call(this, body);
    };
  });
  return {
    sentOffline: () => page.evaluate(() => (window as unknown as { __sentOffline: number }).__sentOffline),
  };
}

/** One PUT the page sent to the store. */
export type StorePut = { key: string; part: number; status?: number; failed?: boolean; afterMark: boolean };

/**
 * Records every PUT the page sends to the store (through reloads). `mark()` flags the PUTs
 * sent from then on, to count what was sent after an event.
 */
export function watchStorePuts(page: Page) {
  const store = process.env.HOIST_S3_ENDPOINT ?? '';
  const puts: StorePut[] = [];
  const byRequest = new Map<Request, StorePut>();
  // Object keys name no file (`hoist/<upload id>/object`): a file's puts are found through the
  // upload ids the server gave its name when the page started it.
  const idsOf = new Map<string, Set<string>>();
  const learn = (value: unknown) => {
    if (Array.isArray(value)) return value.forEach(learn);
    if (value === null || typeof value !== 'object') return;
    const v = value as Record<string, unknown>;
    if (typeof v.upload_id === 'string' && typeof v.name === 'string') {
      if (!idsOf.has(v.name)) idsOf.set(v.name, new Set());
      idsOf.get(v.name)!.add(v.upload_id);
    }
    Object.values(v).forEach(learn);
  };
  page.on('response', async (r) => {
    if (!/\/api\/start_uploads?$/.test(new URL(r.url()).pathname)) return;
    try {
      learn(await r.json());
    } catch {
      // Not JSON (an error page): it started nothing.
    }
  });
  let marked = false;
  page.on('request', (r) => {
    if (r.method() !== 'PUT' || !r.url().startsWith(store)) return;
    const url = new URL(r.url());
    const put = {
      key: decodeURIComponent(url.pathname),
      part: Number(url.searchParams.get('partNumber') ?? 1),
      afterMark: marked,
    };
    puts.push(put);
    byRequest.set(r, put);
  });
  page.on('requestfinished', async (r) => {
    const put = byRequest.get(r);
    if (put) put.status = (await r.response())?.status();
  });
  page.on('requestfailed', (r) => {
    const put = byRequest.get(r);
    if (put) put.failed = true;
  });
  return {
    puts,
    mark: () => {
      marked = true;
    },
    of: (name: string) => {
      const ids = [...(idsOf.get(name) ?? [])];
      return puts.filter((p) => ids.some((id) => p.key.includes(`/${id}/`)));
    },
  };
}

/** The part size the server chose for the next file started on this page. */
export function watchPlans(page: Page) {
  const plans = new Map<string, { size: number; part_size: number; upload_id?: string }>();
  page.on('response', async (r) => {
    if (!/\/api\/(start|resume)_upload/.test(r.url()) || !r.ok()) return;
    const body = await r.json().catch(() => null);
    // start_uploads answers a batch: [{"Ok": {name, plan, ...}} | {"Err": ...}].
    for (const answer of Array.isArray(body) ? body.map((a) => a?.Ok) : [body]) {
      if (answer?.plan) plans.set(answer.name, { ...answer.plan, upload_id: answer.upload_id ?? plans.get(answer.name)?.upload_id });
    }
  });
  return plans;
}

/** Bytes of part `n` (1-based) of a file cut as `plan` says. */
export function partLength(plan: { size: number; part_size: number }, n: number): number {
  return Math.max(0, Math.min(plan.part_size, plan.size - (n - 1) * plan.part_size));
}

/** Slows the page's uploads to `bytesPerSecond`, as a slow uplink would (Chromium's throttling). */
export async function throttleUploads(page: Page, bytesPerSecond: number) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions', {
    offline: false,
    latency: 0,
    downloadThroughput: -1,
    uploadThroughput: bytesPerSecond,
  });
}

/** The file's download, fetched through the library's link, hashes to `expected`. */
export async function expectDownloadMatches(page: Page, name: string, expected: Buffer) {
  const row = libraryRow(page, name);
  await expect(row).toHaveAttribute('data-status', 'uploaded');
  const href = await row.getByRole('link', { name: 'Download' }).getAttribute('href');
  expect(href).toBeTruthy();
  // Relative to the page: the app under test is not always the configured base URL.
  const response = await page.request.get(new URL(href!, page.url()).href);
  expect(response.status()).toBe(200);
  expect(sha256(await response.body())).toBe(sha256(expected));
}
