import { test, expect } from '@playwright/test';
import { copyFileSync } from 'node:fs';
import { MIB, expectDownloadMatches, libraryRow, openApp, randomFile, watchStorePuts } from './helpers';

test('a file whose content the page already uploaded is stored at once without a byte sent', async ({ page }, testInfo) => {
  // Within HOIST_BROWSER_HASH_MAX: the page reads its SHA-256 before it starts.
  const { path, data } = randomFile(testInfo, 'holiday.bin', 9 * MIB);
  const copy = testInfo.outputPath('holiday-again.bin');
  copyFileSync(path, copy);
  const puts = watchStorePuts(page);
  await openApp(page);

  await page.getByLabel('Choose files').setInputFiles(path);
  const first = libraryRow(page, 'holiday.bin');
  await expect(first).toHaveAttribute('data-status', 'uploaded', { timeout: 60_000 });
  // The server knows the content once processing has hashed it.
  await expect(first.locator('.status')).toHaveText('ready', { timeout: 60_000 });
  expect(puts.of('holiday.bin').length).toBeGreaterThan(0);

  puts.mark();
  await page.getByLabel('Choose files').setInputFiles(copy);
  const again = libraryRow(page, 'holiday-again.bin');
  await expect(again).toHaveAttribute('data-status', 'uploaded', { timeout: 60_000 });
  await expect(page.getByRole('progressbar', { name: 'Upload progress for holiday-again.bin' })).toHaveAttribute('aria-valuenow', '100');
  expect(puts.puts.filter((p) => p.afterMark)).toEqual([]);
  await expectDownloadMatches(page, 'holiday-again.bin', data);
});
