import { test, expect } from '@playwright/test';
import { writeFileSync } from 'node:fs';
import { libraryRow, openApp } from './helpers';
import { objectsUnder } from './s3';

// An instance with HOIST_SCAN=required, a real clamd (tests/clamav's signatures) and its own
// key prefix, started by scripts/test.sh.
function scanning(): string {
  const base = process.env.HOIST_SCAN_BASE_URL;
  if (!base) throw new Error('HOIST_SCAN_BASE_URL is not set: run the tests with scripts/test.sh');
  return base;
}
const PREFIX = 'scanning/';

/** The EICAR test file, put together here so that no scanner flags this source. */
function eicar(): Buffer {
  return Buffer.from(['X5O!P%@AP[4\\PZX54(P^)7CC)7}$', 'EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*'].join(''));
}

test('an EICAR file is reported infected, cannot be shared, and its object leaves the bucket', async ({ page, request }, testInfo) => {
  const base = scanning();
  const name = 'invoice.txt';
  const path = testInfo.outputPath(name);
  writeFileSync(path, eicar());

  await openApp(page, base);
  await page.getByLabel('Choose files').setInputFiles(path);
  const row = libraryRow(page, name);
  // Live, without a reload: the status word and the signature, and nothing to download.
  await expect(row.locator('.status')).toHaveText('infected', { timeout: 60_000 });
  await expect(row.locator('.scan')).toHaveText('infected: Hoist.Test.EICAR.UNOFFICIAL');
  await expect(row.getByRole('link', { name: 'Download' })).toHaveCount(0);
  const id = await row.getAttribute('data-upload-id');
  expect(id).toBeTruthy();
  // The bucket holds nothing of it any more (the object, and no thumbnail).
  await expect.poll(() => objectsUnder(`${PREFIX}${id}/`), { timeout: 30_000 }).toBe(0);

  // Its page says why, shows and offers nothing, and refuses to share it.
  await page.goto(`${base}/files/${id}`);
  await expect(page.locator('main[data-hydrated="true"]')).toBeAttached();
  await expect(page.locator('dd.scan')).toHaveText('infected: Hoist.Test.EICAR.UNOFFICIAL. The file has been deleted.');
  await expect(page.getByRole('link', { name: 'Download' })).toHaveCount(0);
  await page.getByLabel('Who can see it').selectOption('link');
  await page.getByRole('button', { name: 'Save' }).click();
  await expect(page.getByRole('alert')).toContainText('This file was found to be infected (Hoist.Test.EICAR.UNOFFICIAL)');
  await expect(page.getByLabel('Link to share')).toHaveCount(0);
  // Its download link answers 410 Gone with the same sentence, to its owner too.
  const download = await page.request.get(`${base}/files/${id}/download`, { maxRedirects: 0 });
  expect(download.status()).toBe(410);
  expect(await download.text()).toContain('found to be infected');
  // A stranger learns nothing of it.
  const stranger = await request.get(`${base}/files/${id}/download`, { maxRedirects: 0 });
  expect(stranger.status()).toBe(404);
});

test('a clean file is scanned clean, keeps its object, and is shared by link', async ({ page, browser }, testInfo) => {
  const base = scanning();
  const name = 'minutes.txt';
  const path = testInfo.outputPath(name);
  writeFileSync(path, 'Minutes of the meeting: nothing alarming.\n');

  await openApp(page, base);
  await page.getByLabel('Choose files').setInputFiles(path);
  const row = libraryRow(page, name);
  await expect(row.locator('.scan')).toHaveText('scanned clean', { timeout: 60_000 });
  await expect(row.locator('.status')).toHaveText('ready');
  const id = await row.getAttribute('data-upload-id');
  expect(await objectsUnder(`${PREFIX}${id}/`)).toBe(1);

  await page.goto(`${base}/files/${id}`);
  await expect(page.locator('main[data-hydrated="true"]')).toBeAttached();
  await expect(page.locator('dd.scan')).toHaveText('scanned clean');
  await page.getByLabel('Who can see it').selectOption('link');
  await page.getByRole('button', { name: 'Save' }).click();
  const link = page.getByLabel('Link to share');
  await expect(link).toHaveValue(/\/files\/.+\?key=/);
  const stranger = await browser.newContext();
  const other = await stranger.newPage();
  await other.goto(await link.inputValue());
  await expect(other.locator('h1')).toHaveText(name);
  await stranger.close();
});
