// Ten thousand files picked at once (a photo library, a dataset folder): every one verified,
// and the page keeps answering while they go: the queue draws only the rows in view, "Pause
// all" and "Resume all" reach every file mid-way, and the library draws a page of rows, not
// ten thousand. (How fast it answers — click waits, long tasks, memory — is measured by
// bench/upload.sh's `tenk` scenario: timings never decide a test.)
import { test, expect } from '@playwright/test';
import { mkdirSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { openApp } from './helpers';

const FILES = 10_000;

test('10,000 files picked at once are all verified while the page keeps answering', async ({ page }, testInfo) => {
  test.setTimeout(900_000);
  const dir = testInfo.outputPath('files');
  mkdirSync(dir, { recursive: true });
  const paths = Array.from({ length: FILES }, (_, i) => {
    const path = `${dir}/photo-${String(i).padStart(5, '0')}.bin`;
    writeFileSync(path, randomBytes(1024));
    return path;
  });
  // An instance of its own: ten thousand rows would change what the other tests measure of the
  // main one (how much it reads while a file goes by).
  await openApp(page, process.env.HOIST_MANY_BASE_URL ?? '');
  await page.getByLabel('Choose files').setInputFiles(paths);

  const total = page.locator('section.total');
  await expect(total).toHaveAttribute('data-files', String(FILES), { timeout: 120_000 });
  const viewport = page.getByRole('region', { name: 'Files in the queue' });
  const drawn = await viewport.locator('.task').count();
  expect(drawn).toBeGreaterThan(0);
  expect(drawn).toBeLessThan(60);

  // Mid-way, the buttons for all files act on every one of them.
  await expect.poll(async () => Number(await total.getAttribute('data-uploaded')), { timeout: 600_000 }).toBeGreaterThan(1000);
  const summary = page.locator('.queue-summary');
  await page.getByRole('button', { name: 'Pause all' }).click();
  await expect(summary).toContainText('paused');
  await expect(summary).not.toContainText(/sending|waiting/);
  const paused = Number(await total.getAttribute('data-uploaded'));
  expect(paused).toBeLessThan(FILES);
  await page.getByRole('button', { name: 'Resume all' }).click();

  await expect(total).toHaveAttribute('data-uploaded', String(FILES), { timeout: 780_000 });
  await expect(total).toHaveAttribute('data-failed', '0');
  await expect(summary).toHaveText('10,000 uploaded');
  // The library holds them all and draws a page of them.
  await expect(page.locator('.library tbody tr[data-status="uploaded"]')).toHaveCount(100);
  // The server agrees: the last file picked is in the library, verified.
  await page.getByRole('searchbox', { name: 'Search the library by name' }).fill('photo-09999');
  await expect(page.locator('.library tbody tr')).toHaveCount(1);
  await expect(page.locator('.library tbody tr')).toHaveAttribute('data-status', 'uploaded');
});
