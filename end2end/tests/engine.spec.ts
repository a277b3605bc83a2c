// The upload engine under trouble: failing requests, expiring URLs, a reload half way, pause,
// resume and cancel, many files at once. Real Chromium, real Garage, real app.
import { test, expect, Route, TestInfo } from '@playwright/test';
import {
  bar,
  barsNeverWentBack,
  countPutsSentOffline,
  expectDownloadMatches,
  libraryRow,
  MIB,
  openApp,
  partLength,
  percent,
  randomFile,
  recordBars,
  throttleUploads,
  untilPercent,
  watchPlans,
  watchStorePuts,
} from './helpers';
import { multipartUploadsUnder, objectsUnder } from './s3';

/** A measurement worth reading in the test output. */
function note(testInfo: TestInfo, line: string) {
  console.log(line);
  testInfo.annotations.push({ type: 'measurement', description: line });
}

const STORE = process.env.HOIST_S3_ENDPOINT ?? 'http://127.0.0.1:3900';
/** HOIST_PARALLEL_PARTS of the app under test (its default). */
const POOL = 6;

test('a 200 MiB file survives failing part requests, a 500 and going offline, and arrives identical', async ({ page }, testInfo) => {
  const name = 'flaky-network.bin';
  const { path, data } = randomFile(testInfo, name, 200 * MIB);
  await openApp(page);
  const origin = new URL(page.url()).origin;
  const store = watchStorePuts(page);

  // Every 5th part PUT fails once at the network level, and one PUT gets a 500 from a "proxy".
  const failedOnce = new Set<number>();
  let seen = 0;
  let served500 = false;
  await page.route(`${STORE}/**`, async (route) => {
    const request = route.request();
    if (request.method() !== 'PUT') return route.continue();
    const part = Number(new URL(request.url()).searchParams.get('partNumber'));
    seen += 1;
    if (seen === 2 && !served500) {
      served500 = true;
      return route.fulfill({
        status: 500,
        headers: { 'access-control-allow-origin': origin },
        body: '<Error><Code>InternalError</Code><Message>proxy trouble</Message></Error>',
      });
    }
    if (seen % 5 === 0 && !failedOnce.has(part)) {
      failedOnce.add(part);
      return route.abort('failed');
    }
    return route.continue();
  });
  await recordBars(page);
  const offline = await countPutsSentOffline(page);

  await page.getByLabel('Choose files').setInputFiles(path);
  await untilPercent(page, name, 20);

  // Offline: the engine waits (no file fails, no retries are burnt) and shows why; nothing is
  // sent until the network is back (counted at every send, for the whole offline stretch).
  await page.context().setOffline(true);
  await expect(page.getByRole('status').filter({ hasText: 'You are offline' })).toBeVisible();
  const settled = () => store.of(name).every((p) => p.status !== undefined || p.failed);
  await expect.poll(settled, { timeout: 60_000 }).toBe(true);
  await expect(page.locator('.task', { hasText: name }).locator('.task-status')).toHaveText('uploading');
  expect(await percent(page, name)).toBeLessThan(100);
  expect(await offline.sentOffline(), 'part PUTs sent while offline').toBe(0);
  await page.context().setOffline(false);

  await expect(bar(page, name)).toHaveAttribute('aria-valuenow', '100', { timeout: 240_000 });
  await expectDownloadMatches(page, name, data);
  expect(served500).toBe(true);
  expect(failedOnce.size).toBeGreaterThan(0);
  const samples = await barsNeverWentBack(page);
  const puts = store.of(name);
  note(testInfo, `${puts.length} part PUTs for ${Math.ceil(data.length / (16 * MIB))} parts (${failedOnce.size} aborted, 1 answered 500, some lost offline); ${samples} bar samples never went back`);
});

test('URLs that expire in 2 seconds do not stop a slow upload: parts are signed again', async ({ page }, testInfo) => {
  const base = process.env.HOIST_SHORT_TTL_BASE_URL;
  expect(base, 'scripts/test.sh starts a second app with HOIST_URL_TTL=2s').toBeTruthy();
  const name = 'short-lived-urls.bin';
  const { path, data } = randomFile(testInfo, name, 40 * MIB);
  await openApp(page, base);
  const store = watchStorePuts(page);
  let signCalls = 0;
  page.on('request', (r) => {
    if (r.url().includes('/api/sign_parts')) signCalls += 1;
  });
  // Two part requests are held back longer than their URL lives, as a congested link would.
  let held = 0;
  await page.route(`${STORE}/**`, async (route) => {
    if (route.request().method() === 'PUT' && held < 2) {
      held += 1;
      await new Promise((resolve) => setTimeout(resolve, 2_500));
    }
    return route.continue();
  });
  await throttleUploads(page, 8 * MIB);

  await page.getByLabel('Choose files').setInputFiles(path);
  await expect(bar(page, name)).toHaveAttribute('aria-valuenow', '100', { timeout: 120_000 });
  await expectDownloadMatches(page, name, data);

  const expired = store.of(name).filter((p) => p.status === 400 || p.status === 403);
  expect(expired.length, 'the held-back parts reached the store with expired URLs').toBeGreaterThan(0);
  // 8 parts of 5 MiB fit one batch of URLs; more calls mean URLs were signed again.
  expect(signCalls).toBeGreaterThan(1);
  await expect(page.locator('.task', { hasText: name }).locator('.task-status')).toHaveText('uploaded');
  note(testInfo, `${signCalls} sign_parts calls, ${expired.length} PUTs refused as expired, upload completed`);
});

test('reloaded at half way, the same file picked again sends only what is missing', async ({ page }, testInfo) => {
  const name = 'reload-me.bin';
  const size = 200 * MIB;
  const { path, data } = randomFile(testInfo, name, size);
  await openApp(page);
  const store = watchStorePuts(page);
  const plans = watchPlans(page);
  await throttleUploads(page, 40 * MIB);

  await page.getByLabel('Choose files').setInputFiles(path);
  await untilPercent(page, name, 50);
  // What the browser saw arrive before the reload; everything else counts as missing.
  const arrived = new Set(store.of(name).filter((p) => p.status === 200).map((p) => p.part));
  await page.reload();
  store.mark();
  await expect(page.locator('main[data-hydrated="true"]')).toBeAttached();

  const unfinished = page.locator('.unfinished-upload', { hasText: name });
  await expect(unfinished).toBeVisible();
  // Offering another file for it is refused, and nothing is sent.
  await unfinished.getByLabel(`Pick ${name} again`).setInputFiles({
    name,
    mimeType: 'application/octet-stream',
    buffer: Buffer.from('not the same bytes at all'),
  });
  await expect(unfinished.getByRole('alert')).toContainText('That is not the same file');
  expect(store.puts.filter((p) => p.afterMark)).toHaveLength(0);

  await page.getByLabel('Choose files').setInputFiles(path);
  await expect(bar(page, name)).toHaveAttribute('aria-valuenow', '100', { timeout: 240_000 });
  await expectDownloadMatches(page, name, data);
  await expect(unfinished).toHaveCount(0);

  const plan = plans.get(name)!;
  expect(plan, 'the page was told the plan').toBeTruthy();
  const parts = Math.ceil(size / plan.part_size);
  const after = store.of(name).filter((p) => p.afterMark);
  const resentArrived = after.filter((p) => arrived.has(p.part)).map((p) => p.part);
  expect(resentArrived, 'parts that had arrived are not sent again').toEqual([]);
  const missing = Array.from({ length: parts }, (_, i) => i + 1)
    .filter((n) => !arrived.has(n))
    .reduce((sum, n) => sum + partLength(plan, n), 0);
  const sentAfter = after.reduce((sum, p) => sum + partLength(plan, p.part), 0);
  expect(sentAfter).toBeLessThanOrEqual(missing + plan.part_size * POOL);
  const line = `reload at ${arrived.size}/${parts} parts: ${(missing / MIB).toFixed(0)} MiB missing, ${(sentAfter / MIB).toFixed(0)} MiB PUT after the reload`;
  note(testInfo, line);
});

test('pause stops a file and resume finishes it; cancel leaves nothing in the bucket', async ({ page }, testInfo) => {
  const keep = randomFile(testInfo, 'pause-me.bin', 120 * MIB);
  const drop = randomFile(testInfo, 'cancel-me.bin', 120 * MIB);
  await openApp(page);
  const store = watchStorePuts(page);
  let resumeCalls = 0;
  page.on('request', (r) => {
    if (r.url().includes('/api/resume_upload')) resumeCalls += 1;
  });
  await throttleUploads(page, 30 * MIB);
  await recordBars(page);
  // Each file must still be on its way when its button is clicked (upload progress can jump
  // ahead of the throttle, and on a busy machine a file once finished first): the file to
  // cancel keeps its last part until Cancel is clicked, the file to pause its fifth part on
  // until Pause is.
  const plans = watchPlans(page);
  let clicked!: () => void;
  const cancelClicked = new Promise<void>((resolve) => (clicked = resolve));
  let pauseClicked!: () => void;
  const paused = new Promise<void>((resolve) => (pauseClicked = resolve));
  // Keys name no file: a part is an upload's by the upload's id.
  const partOf = (name: string, url: URL) => {
    const plan = plans.get(name);
    if (plan?.upload_id === undefined || !url.pathname.includes(`/${plan.upload_id}/`)) return undefined;
    return { part: Number(url.searchParams.get('partNumber')), last: Math.ceil(plan.size / plan.part_size) };
  };
  await page.route(`${STORE}/**`, async (route) => {
    const url = new URL(route.request().url());
    const put = route.request().method() === 'PUT';
    const dropping = partOf('cancel-me.bin', url);
    const keeping = partOf('pause-me.bin', url);
    if (put && dropping !== undefined && dropping.part === dropping.last) await cancelClicked;
    if (put && keeping !== undefined && keeping.part >= 5) await paused;
    // A held part's request is aborted by the cancel meanwhile: nothing left to continue.
    await route.continue().catch(() => {});
  });

  await page.getByLabel('Choose files').setInputFiles([keep.path, drop.path]);
  const keepRow = page.locator('.task', { hasText: 'pause-me.bin' });
  const dropRow = page.locator('.task', { hasText: 'cancel-me.bin' });
  await untilPercent(page, 'pause-me.bin', 30);
  await keepRow.getByRole('button', { name: 'Pause' }).click();
  // From here on, nothing of the paused file may be sent.
  store.mark();
  pauseClicked();
  await expect(keepRow.locator('.task-status')).toHaveText('paused');

  // The other file gets the pool meanwhile; cancel it on its way.
  await untilPercent(page, 'cancel-me.bin', 10);
  await dropRow.getByRole('button', { name: 'Cancel' }).click();
  clicked();
  await expect(dropRow.locator('.task-status')).toHaveText('aborted');

  // A part may have arrived in the instant before the pause: take the paused file's figures
  // once every request it had in flight has ended.
  const ended = () => store.of('pause-me.bin').every((p) => p.status !== undefined || p.failed);
  await expect.poll(ended, { timeout: 30_000 }).toBe(true);
  const pausedAt = await percent(page, 'pause-me.bin');
  const arrivedBeforePause = new Set(store.of('pause-me.bin').filter((p) => p.status === 200).map((p) => p.part));

  const dropped = libraryRow(page, 'cancel-me.bin');
  await expect(dropped.locator('.status')).toHaveText('aborted');
  const droppedId = await dropped.getAttribute('data-upload-id');
  expect(droppedId).toBeTruthy();
  expect(await multipartUploadsUnder(`hoist/${droppedId}/`)).toBe(0);
  expect(await objectsUnder(`hoist/${droppedId}/`)).toBe(0);

  // Nothing of the paused file was sent while it was paused, and its bar stood still.
  expect(store.of('pause-me.bin').filter((p) => p.afterMark)).toHaveLength(0);
  expect(await percent(page, 'pause-me.bin')).toBe(pausedAt);

  await keepRow.getByRole('button', { name: 'Resume' }).click();
  await expect(bar(page, 'pause-me.bin')).toHaveAttribute('aria-valuenow', '100', { timeout: 240_000 });
  await expectDownloadMatches(page, 'pause-me.bin', keep.data);
  expect(resumeCalls, 'resume asked the server what the store holds').toBeGreaterThan(0);
  const resent = store.of('pause-me.bin').filter((p) => p.afterMark && arrivedBeforePause.has(p.part));
  expect(resent, 'parts that had arrived before the pause are not sent again').toHaveLength(0);
  // Cancelling a file takes it out of the total (its bytes and its size): that bar may drop.
  await barsNeverWentBack(page, ['Total upload progress']);
});

test('20 small files and a large one dropped together all arrive', async ({ page }) => {
  await openApp(page);
  await recordBars(page);
  const transfer = await page.evaluateHandle((mib) => {
    const random = (n: number) => {
      const bytes = new Uint8Array(n);
      for (let i = 0; i < n; i += 65536) crypto.getRandomValues(bytes.subarray(i, Math.min(n, i + 65536)));
      return bytes;
    };
    const t = new DataTransfer();
    for (let i = 1; i <= 20; i++) {
      t.items.add(new File([random(1000 * i)], `small-${String(i).padStart(2, '0')}.txt`, { type: 'text/plain' }));
    }
    t.items.add(new File([random(50 * mib)], 'large.bin', { type: 'application/octet-stream' }));
    return t;
  }, MIB);
  await page.locator('.drop-zone').dispatchEvent('drop', { dataTransfer: transfer });

  await expect(page.locator('.task')).toHaveCount(21);
  await expect(page.getByRole('progressbar', { name: 'Total upload progress' })).toHaveAttribute('aria-valuenow', '100', {
    timeout: 180_000,
  });
  await expect(page.locator('.task[data-phase="uploaded"]')).toHaveCount(21);
  await expect(page.locator('.library tbody tr[data-status="uploaded"]')).toHaveCount(21);
  await barsNeverWentBack(page);
});

test('a part the store never answers is sent again once a minute has passed in silence, and the file completes', async ({ page }, testInfo) => {
  test.setTimeout(180_000);
  const name = 'never-answered.bin';
  const { path, data } = randomFile(testInfo, name, 10 * MIB);
  await openApp(page);
  const store = watchStorePuts(page);
  // The first part PUT reaches nobody and is never answered: a connection lost without the
  // browser noticing, or a store that hangs.
  const held: Route[] = [];
  let heldPart = 0;
  await page.route(`${STORE}/**`, async (route) => {
    if (route.request().method() === 'PUT' && held.length === 0) {
      held.push(route);
      heldPart = Number(new URL(route.request().url()).searchParams.get('partNumber'));
      return;
    }
    return route.continue();
  });
  const started = Date.now();
  await page.getByLabel('Choose files').setInputFiles(path);
  await expect(bar(page, name)).toHaveAttribute('aria-valuenow', '100', { timeout: 150_000 });
  const seconds = (Date.now() - started) / 1000;
  await expectDownloadMatches(page, name, data);
  for (const route of held) await route.abort().catch(() => {});

  expect(held.length).toBe(1);
  const sends = store.of(name).filter((p) => p.part === heldPart);
  expect(sends.length, 'the silent part was sent again').toBe(2);
  expect(seconds, 'it waited for the stall limit, not for the request timeout').toBeGreaterThan(55);
  note(testInfo, `part ${heldPart} never answered: sent again, file completed after ${seconds.toFixed(1)} s`);
});
