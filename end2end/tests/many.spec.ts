// Many files at once: the queue draws only the rows in view and adds everything up in one
// line, the buttons for all files still act on every one of them while the files go, and
// every file is verified. (The 10,000-file figures — click waits, long tasks, memory — are
// measured by bench/upload.sh's `tenk` scenario: timings never decide a test.)
import { test, expect } from '@playwright/test';
import { mkdirSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { openApp } from './helpers';

const FILES = 400;

test(`${FILES} files picked at once: a short queue of rows, one summary, pause and resume for all, every file verified`, async ({
  page,
}, testInfo) => {
  test.setTimeout(300_000);
  const dir = testInfo.outputPath('files');
  mkdirSync(dir, { recursive: true });
  const paths = Array.from({ length: FILES }, (_, i) => {
    const path = `${dir}/item-${String(i).padStart(4, '0')}.bin`;
    writeFileSync(path, randomBytes(2048 + i));
    return path;
  });
  await openApp(page);
  await page.getByLabel('Choose files').setInputFiles(paths);

  const summary = page.locator('.queue-summary');
  const total = page.getByRole('progressbar', { name: 'Total upload progress' });
  // The queue is a scrolling box holding only the rows in view, not 400 rows.
  const viewport = page.getByRole('region', { name: 'Files in the queue' });
  await expect(viewport).toBeVisible();
  const drawn = await viewport.locator('.task').count();
  expect(drawn).toBeGreaterThan(0);
  expect(drawn).toBeLessThan(60);
  // Scrolling to the end draws the last files.
  await viewport.evaluate((el) => el.scrollTo(0, el.scrollHeight));
  await expect(viewport.locator('.task', { hasText: `item-${String(FILES - 1).padStart(4, '0')}.bin` })).toBeVisible();

  // "Pause all" reaches files that are not drawn: nothing is left sending or waiting.
  await page.getByRole('button', { name: 'Pause all' }).click();
  await expect(summary).toContainText('paused');
  await expect(summary).not.toContainText(/sending|waiting/);
  await expect(page.getByRole('button', { name: 'Pause all' })).toBeDisabled();
  await page.getByRole('button', { name: 'Resume all' }).click();

  await expect(total).toHaveAttribute('aria-valuenow', '100', { timeout: 240_000 });
  await expect(summary).toHaveText(`${FILES} uploaded`);
  await expect(page.locator('section.total')).toHaveAttribute('data-uploaded', String(FILES));
  // The library draws its first hundred rows, every one verified, and offers the rest.
  await expect(page.locator('.library tbody tr[data-status="uploaded"]')).toHaveCount(100);
  await page.getByRole('button', { name: 'Load more' }).click();
  await expect(page.locator('.library tbody tr[data-status="uploaded"]')).toHaveCount(200);
});
