import { test, expect } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { libraryRow, openApp } from './helpers';

/** An image made by ffmpeg (installed by the scripts), and two files that are not pictures. */
function files(dir: (name: string) => string) {
  const image = dir('sunset.png');
  execFileSync('ffmpeg', ['-y', '-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc=size=640x360', '-frames:v', '1', image]);
  const notes = dir('notes.txt');
  writeFileSync(notes, 'remember the milk\n');
  const report = dir('annual report.csv');
  writeFileSync(report, 'year,total\n2026,42\n');
  return { image, notes, report };
}

test('the library is searched, ordered, shown as a grid, and many files go at once', async ({ page }, testInfo) => {
  const { image, notes, report } = files((n) => testInfo.outputPath(n));
  await openApp(page);
  await page.getByLabel('Choose files').setInputFiles([notes, image, report]);

  // The queue: a picture of the image made in the browser, a badge for the others.
  const imageTask = page.locator('.task', { hasText: 'sunset.png' });
  const preview = imageTask.locator('.task-picture img');
  await expect(preview).toBeVisible();
  expect(await preview.getAttribute('src')).toMatch(/^blob:/);
  // Decoded, not a broken image (the page's policy must admit the address).
  await expect.poll(() => preview.evaluate((img: HTMLImageElement) => img.naturalWidth)).toBe(640);
  await expect(page.locator('.task', { hasText: 'notes.txt' }).locator('.type-icon')).toHaveText('TXT');

  for (const name of ['sunset.png', 'notes.txt', 'annual report.csv']) {
    await expect(libraryRow(page, name)).toHaveAttribute('data-status', 'uploaded', { timeout: 60_000 });
  }
  await expect(libraryRow(page, 'sunset.png').locator('.status')).toHaveText('ready', { timeout: 60_000 });
  await expect(libraryRow(page, 'annual report.csv').locator('.type-icon')).toHaveText('CSV');

  // Search by name, in either case; the server answers, not only the rows drawn.
  const search = page.getByRole('searchbox', { name: 'Search the library by name' });
  await search.fill('SUN');
  await expect(page.locator('.library tbody tr')).toHaveCount(1);
  await expect(libraryRow(page, 'sunset.png')).toBeVisible();
  await search.fill('nothing like it');
  await expect(page.getByText('No file names match that search.')).toBeVisible();
  await search.fill('');
  await expect(page.locator('.library tbody tr')).toHaveCount(3);

  // Ordered by name.
  await page.locator('.library-sort select').selectOption('name');
  await expect(page.locator('.library tbody td.name a')).toHaveText(['annual report.csv', 'notes.txt', 'sunset.png']);

  // The grid: the thumbnail large, and the choice remembered across a reload.
  await page.getByRole('button', { name: 'Grid', exact: true }).click();
  await expect(page.locator('.library .card')).toHaveCount(3);
  const picture = page.locator('.library .card', { hasText: 'sunset.png' }).locator('img.thumbnail');
  await expect(picture).toBeVisible();
  await expect.poll(() => picture.evaluate((img: HTMLImageElement) => img.naturalWidth)).toBeGreaterThan(0);
  await page.reload();
  await expect(page.locator('main[data-hydrated="true"]')).toBeAttached();
  await expect(page.getByRole('button', { name: 'Grid', exact: true })).toHaveAttribute('aria-pressed', 'true');
  await expect(page.locator('.library .card')).toHaveCount(3);

  // Two chosen and deleted together, after an explicit second click.
  await page.getByRole('checkbox', { name: 'Select notes.txt' }).check();
  await page.getByRole('checkbox', { name: 'Select annual report.csv' }).check();
  await expect(page.getByText('2 files selected')).toBeVisible();
  await page.getByRole('button', { name: 'Delete selected' }).click();
  await page.getByRole('button', { name: 'Delete them for good' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Deleted 2 files.' })).toBeVisible();
  await expect(page.locator('.library .card')).toHaveCount(1);
  await page.getByRole('button', { name: 'List', exact: true }).click();
  await expect(page.locator('.library tbody tr')).toHaveCount(1);
  await page.reload();
  await expect(page.locator('main[data-hydrated="true"]')).toBeAttached();
  await page.getByRole('button', { name: 'List', exact: true }).click();
  await expect(page.locator('.library tbody tr')).toHaveCount(1);
});

test('a shared file has "Copy link", and the link copied opens it for a stranger', async ({ page, browser, context }, testInfo) => {
  await context.grantPermissions(['clipboard-read', 'clipboard-write']);
  const { image } = files((n) => testInfo.outputPath(n));
  await openApp(page);
  await page.getByLabel('Choose files').setInputFiles(image);
  const row = libraryRow(page, 'sunset.png');
  await expect(row).toHaveAttribute('data-status', 'uploaded', { timeout: 60_000 });
  // Private: nothing to copy.
  await expect(row.getByRole('button', { name: 'Copy the link to sunset.png' })).toHaveCount(0);

  const id = await row.getAttribute('data-upload-id');
  await row.getByRole('link', { name: 'sunset.png' }).click();
  await page.getByLabel('Who can see it').selectOption('link');
  await page.getByRole('button', { name: 'Save' }).click();
  await expect(page.getByLabel('Link to share')).toHaveValue(/\/files\/.+\?key=/);

  await openApp(page);
  await row.getByRole('button', { name: 'Copy the link to sunset.png' }).click();
  await expect(row.getByRole('status')).toHaveText('Link copied');
  const link = await page.evaluate(() => navigator.clipboard.readText());
  expect(link).toMatch(new RegExp(`/files/${id}\\?key=[0-9a-f]{32}$`));

  const stranger = await browser.newContext();
  const theirs = await stranger.newPage();
  await theirs.goto(link);
  await expect(theirs.locator('.media img')).toBeVisible();
  await stranger.close();
});

test('a queue of many small files folds into a short box under its summary, every row kept', async ({ page }, testInfo) => {
  const paths = Array.from({ length: 30 }, (_, i) => {
    const path = testInfo.outputPath(`small-${String(i).padStart(2, '0')}.txt`);
    writeFileSync(path, `file ${i}\n`);
    return path;
  });
  await openApp(page);
  await page.getByLabel('Choose files').setInputFiles(paths);
  const total = page.getByRole('progressbar', { name: 'Total upload progress' });
  await expect(total).toHaveAttribute('aria-valuenow', '100', { timeout: 120_000 });
  await expect(page.locator('.queue-summary')).toContainText('30 uploaded');
  const list = page.locator('ul.tasks');
  const show = page.getByRole('button', { name: 'Show all 30 files' });
  await expect(show).toHaveAttribute('aria-expanded', 'false');
  await expect(list).toHaveClass(/folded/);
  // Every file keeps its row and its bar, in a box a few rows high.
  await expect(page.locator('.task[data-phase="uploaded"]')).toHaveCount(30);
  await expect(page.getByRole('progressbar', { name: 'Upload progress for small-29.txt' })).toHaveAttribute('aria-valuenow', '100');
  expect((await list.boundingBox())!.height).toBeLessThan(300);
  await show.click();
  await expect(list).not.toHaveClass(/folded/);
  expect((await list.boundingBox())!.height).toBeGreaterThan(1000);
  await page.getByRole('button', { name: 'Show fewer' }).click();
  await expect(list).toHaveClass(/folded/);
});
