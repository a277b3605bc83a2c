// An upload abandoned half way is gone from the bucket one TTL and one reaper interval later,
// and the library says what happened. Runs against the instance whose uploads expire after
// 3 s without activity (scripts/test.sh starts it).
import { test, expect } from '@playwright/test';
import { expectDownloadMatches, libraryRow, MIB, openApp, randomFile, throttleUploads, untilPercent } from './helpers';
import { multipartUploadsUnder, objectsUnder } from './s3';

test('a tab closed half way through an upload leaves nothing in the bucket once it expires, and another tab sees it expire', async ({ context }, testInfo) => {
  const base = process.env.HOIST_SHORT_LIFE_BASE_URL;
  expect(base, 'HOIST_SHORT_LIFE_BASE_URL: run the tests with scripts/test.sh').toBeTruthy();
  const name = 'abandoned-in-a-tab.bin';
  const { path } = randomFile(testInfo, name, 30 * MIB);

  const page = await context.newPage();
  let uploadId = '';
  page.on('response', async (r) => {
    if (!r.url().includes('/api/start_uploads') || !r.ok()) return;
    // One answer per file of the batch: [{"Ok": {upload_id, ...}}].
    const answers = await r.json().catch(() => []);
    uploadId = answers[0]?.Ok?.upload_id ?? uploadId;
  });
  // A second tab of the same person, open before the upload starts: it follows the upload
  // live, from its start to its expiry, without a reload.
  const watcher = await context.newPage();
  await openApp(watcher, base);
  await expect(watcher.locator('.library')).toContainText('No files yet.');
  await openApp(page, base);
  await throttleUploads(page, 4 * MIB);
  await page.getByLabel('Choose files').setInputFiles(path);
  await untilPercent(page, name, 20);
  expect(uploadId).toBeTruthy();
  await expect(libraryRow(watcher, name).locator('.status')).toHaveText('uploading');
  expect(await multipartUploadsUnder(`hoist/${uploadId}/`)).toBe(1);

  // The person closes the tab; nobody will complete or abort this upload.
  const closedAt = Date.now();
  await page.close();

  await expect
    .poll(async () => (await multipartUploadsUnder(`hoist/${uploadId}/`)) + (await objectsUnder(`hoist/${uploadId}/`)), {
      timeout: 30_000,
      intervals: [250],
    })
    .toBe(0);
  const seconds = (Date.now() - closedAt) / 1000;
  console.log(`abandoned upload gone from the bucket ${seconds.toFixed(1)} s after the tab closed (TTL 3 s, reaper every 1 s)`);
  await expect(libraryRow(watcher, name).locator('.status')).toHaveText('expired');
  await expect(libraryRow(watcher, name).locator('.reason')).toHaveText(/expired/);

  // Coming back, the library says it expired, and why.
  const again = await context.newPage();
  await openApp(again, base);
  const row = libraryRow(again, name);
  await expect(row.locator('.status')).toHaveText('expired');
  await expect(row.locator('.reason')).toHaveText(/expired/);
});

test('a slow upload whose parts each take longer than the TTL is kept alive and completes', async ({ page }, testInfo) => {
  const base = process.env.HOIST_SHORT_LIFE_BASE_URL;
  expect(base, 'HOIST_SHORT_LIFE_BASE_URL: run the tests with scripts/test.sh').toBeTruthy();
  const name = 'slow-but-alive.bin';
  // 6 parts of 5 MiB sent together at 3 MiB/s: each takes about 10 s, the TTL is 3 s, and no
  // part starts (so none is signed) while they are on their way.
  const { path, data } = randomFile(testInfo, name, 30 * MIB);
  let keepAlives = 0;
  page.on('request', (r) => {
    if (r.url().includes('/api/keep_upload_alive')) keepAlives += 1;
  });
  await openApp(page, base);
  await throttleUploads(page, 3 * MIB);
  const started = Date.now();
  await page.getByLabel('Choose files').setInputFiles(path);
  await expectDownloadMatches(page, name, data);
  const seconds = (Date.now() - started) / 1000;
  console.log(`slow upload: ${seconds.toFixed(1)} s with a 3 s TTL, ${keepAlives} keep-alive calls`);
  expect(seconds).toBeGreaterThan(3);
  expect(keepAlives).toBeGreaterThan(0);
});
