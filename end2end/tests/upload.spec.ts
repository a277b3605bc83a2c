import { test, expect } from '@playwright/test';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { appBytesRead, expectFailed, libraryRow, MIB, openApp, sha256 } from './helpers';

test('a 20 MiB file goes from the browser straight to S3 and comes back identical', async ({ page }, testInfo) => {
  const size = 20 * MIB;
  const data = randomBytes(size);
  const name = 'twenty-mib.bin';
  const path = testInfo.outputPath(name);
  writeFileSync(path, data);

  await openApp(page);
  const readBefore = appBytesRead();
  const started = Date.now();
  await page.getByLabel('Choose files').setInputFiles(path);

  const bar = page.getByRole('progressbar', { name: `Upload progress for ${name}` });
  await expect(bar).toBeVisible();
  await expect(bar).toHaveAttribute('aria-valuenow', '100', { timeout: 120_000 });
  const seconds = (Date.now() - started) / 1000;
  await expect(page.locator('.task', { hasText: name })).toContainText('20.0 MiB / 20.0 MiB');

  const row = libraryRow(page, name);
  await expect(row).toHaveAttribute('data-status', 'uploaded');
  await expect(row).toContainText('20.0 MiB');
  const readDuring = appBytesRead() - readBefore;

  const href = await row.getByRole('link', { name: 'Download' }).getAttribute('href');
  expect(href).toBeTruthy();
  const response = await page.request.get(href!);
  expect(response.status()).toBe(200);
  expect(sha256(await response.body())).toBe(sha256(data));

  // The bytes went to S3, not through the app: it read far less than the file.
  expect(readDuring).toBeLessThan(size / 20);
  const line = `20 MiB upload: ${seconds.toFixed(2)} s, ${(20 / seconds).toFixed(1)} MiB/s; app server read ${readDuring} bytes meanwhile`;
  console.log(line);
  testInfo.annotations.push({ type: 'measurement', description: line });
});

test('a file of a type the server does not accept is refused next to the file', async ({ page }) => {
  await openApp(page);
  await page.getByLabel('Choose files').setInputFiles({
    name: 'contract.pdf',
    mimeType: 'application/pdf',
    buffer: Buffer.from('%PDF-1.7 not really'),
  });
  const row = await expectFailed(page, 'contract.pdf', /Files of type application\/pdf are not accepted here/);
  await expect(libraryRow(page, 'contract.pdf')).toHaveCount(0);
  // Sending it again cannot help: nothing offers to.
  await expect(row.getByRole('button')).toHaveCount(0);
  // The total counts it as settled, not as waiting.
  await expect(page.getByRole('progressbar', { name: 'Total upload progress' })).toHaveAttribute('aria-valuenow', '100');
  await expect(page.locator('.queue-summary')).toHaveText('1 failed');
});

test('the library keeps a finished upload across a reload, for this browser only', async ({ page, browser }) => {
  await openApp(page);
  const name = 'keep-me.txt';
  await page.getByLabel('Choose files').setInputFiles({ name, mimeType: 'text/plain', buffer: Buffer.from('hello, hoist\n') });
  await expect(libraryRow(page, name)).toHaveAttribute('data-status', 'uploaded');

  await page.reload();
  await expect(libraryRow(page, name)).toHaveAttribute('data-status', 'uploaded');

  // Another browser (another session cookie) sees none of it.
  const stranger = await browser.newContext();
  const other = await stranger.newPage();
  await openApp(other);
  await expect(other.locator('.library')).toBeVisible();
  await expect(libraryRow(other, name)).toHaveCount(0);
  await stranger.close();
});

test('a library of more than one page shows 100 rows and loads the rest on request', async ({ page }) => {
  await openApp(page);
  // 105 uploads started in this browser's session (its cookies), the quick way, and cancelled
  // at once: no one may have more than HOIST_MAX_ACTIVE_UPLOADS (100) unfinished.
  for (let n = 0; n < 105; n++) {
    const answer = await page.request.post('/api/start_upload', {
      form: { name: `page-${n}.bin`, size: '10', content_type: 'application/octet-stream' },
    });
    expect(answer.ok()).toBe(true);
    const { upload_id } = await answer.json();
    expect((await page.request.post('/api/abort_upload', { form: { upload_id } })).ok()).toBe(true);
  }
  await page.reload();
  const rows = page.locator('.library tbody tr');
  await expect(rows).toHaveCount(100);
  // Newest first: the last one started heads the list.
  await expect(rows.first().locator('td.name')).toHaveText('page-104.bin');
  await page.getByRole('button', { name: 'Load more' }).click();
  await expect(rows).toHaveCount(105);
  await expect(rows.last().locator('td.name')).toHaveText('page-0.bin');
  await expect(page.getByRole('button', { name: 'Load more' })).toHaveCount(0);
});

test('a file dropped on the drop zone is uploaded', async ({ page }) => {
  await openApp(page);
  const dataTransfer = await page.evaluateHandle(() => {
    const transfer = new DataTransfer();
    transfer.items.add(new File(['dropped, not picked\n'], 'dropped.txt', { type: 'text/plain' }));
    return transfer;
  });
  await page.locator('.drop-zone').dispatchEvent('drop', { dataTransfer });
  await expect(libraryRow(page, 'dropped.txt')).toHaveAttribute('data-status', 'uploaded');
});

test('when the storage cannot be reached, the file retries, says so, then fails in words', async ({ page }) => {
  const s3 = process.env.HOIST_S3_ENDPOINT;
  if (!s3) throw new Error('HOIST_S3_ENDPOINT is not set: run the tests with scripts/test.sh');
  await openApp(page);
  // The server can still reach the store; only this browser's way to it is cut.
  await page.route((url) => url.href.startsWith(s3), (route) => route.abort('connectionrefused'));
  await page.getByLabel('Choose files').setInputFiles({
    name: 'unlucky.txt',
    mimeType: 'text/plain',
    buffer: Buffer.from('these bytes never leave the browser\n'),
  });
  // While it retries (about a minute), the row says what is going on.
  const row = page.locator('.task', { hasText: 'unlucky.txt' });
  await expect(row.locator('.task-note')).toContainText('the storage service could not be reached; trying again in');
  await expect(row.locator('.task-status')).toHaveText('uploading');
  const task = await expectFailed(page, 'unlucky.txt', 'Upload failed: the storage service could not be reached.', 150_000);
  await expect(task.getByRole('progressbar')).not.toHaveAttribute('aria-valuenow', '100');
});

test('a picked folder uploads every file in it', async ({ page }, testInfo) => {
  const folder = testInfo.outputPath('holiday');
  mkdirSync(`${folder}/day-2`, { recursive: true });
  writeFileSync(`${folder}/first.txt`, 'first day\n');
  writeFileSync(`${folder}/day-2/second.txt`, 'second day\n');
  writeFileSync(`${folder}/day-2/raw.bin`, randomBytes(3000));
  await openApp(page);
  await page.getByLabel('Choose a folder').setInputFiles(folder);
  for (const name of ['first.txt', 'second.txt', 'raw.bin']) {
    await expect(libraryRow(page, name)).toHaveAttribute('data-status', 'uploaded');
  }
});

test('forty small files go up in a few batched calls, each one verified, none signed on its own', async ({ page }, testInfo) => {
  await openApp(page);
  const calls: Record<string, number> = {};
  page.on('request', (r) => {
    const fn = new URL(r.url()).pathname.match(/^\/api\/(\w+)/)?.[1];
    if (fn) calls[fn] = (calls[fn] ?? 0) + 1;
  });
  const files = Array.from({ length: 40 }, (_, i) => ({
    name: `album-${i}.bin`,
    mimeType: 'application/octet-stream',
    buffer: randomBytes(64 * 1024 + i),
  }));
  await page.getByLabel('Choose files').setInputFiles(files);
  for (const file of files) {
    await expect(page.locator('.task', { hasText: file.name }).locator('.task-status')).toHaveText('uploaded', { timeout: 60_000 });
  }
  // Every file comes back byte for byte, not only the last: a mix-up between two small files
  // of one batch (a URL, a checksum or a completion given to the wrong file) shows here.
  for (const file of files) {
    const href = await libraryRow(page, file.name).getByRole('link', { name: 'Download' }).getAttribute('href');
    expect(sha256(await (await page.request.get(href!)).body()), file.name).toBe(sha256(file.buffer));
  }

  // A small file's checksum goes with the start, so its URL comes back with it: no sign_parts.
  // Starts go in batches, and files finishing together are completed together.
  expect(calls.sign_parts ?? 0).toBe(0);
  expect(calls.start_uploads).toBeGreaterThan(0);
  expect(calls.start_uploads).toBeLessThanOrEqual(10);
  expect(calls.complete_uploads).toBeLessThan(files.length);
  const line = `40 small files: ${calls.start_uploads} start_uploads, ${calls.complete_uploads} complete_uploads, ${calls.sign_parts ?? 0} sign_parts calls`;
  console.log(line);
  testInfo.annotations.push({ type: 'measurement', description: line });
});
