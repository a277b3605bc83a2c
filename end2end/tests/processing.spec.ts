import { test, expect, Page, Response } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { libraryRow, openApp } from './helpers';

/** A file made by ffmpeg (installed by the scripts), read back. */
function ffmpeg(path: string, args: string[]): Buffer {
  execFileSync('ffmpeg', ['-y', '-hide_banner', '-loglevel', 'error', ...args, path]);
  return readFileSync(path);
}

/** Marks the window: a reload would lose the mark. */
async function markWindow(page: Page) {
  await page.evaluate(() => ((window as any).__hoistMark = 'still here'));
}

async function windowWasNotReloaded(page: Page) {
  expect(await page.evaluate(() => (window as any).__hoistMark)).toBe('still here');
}

test('an image turns ready with its thumbnail without a reload', async ({ page }, testInfo) => {
  const name = 'sunrise.png';
  const path = testInfo.outputPath(name);
  ffmpeg(path, ['-f', 'lavfi', '-i', 'testsrc=size=1280x720', '-frames:v', '1']);

  // What the page's EventSource receives, as the browser's network layer reports it.
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.enable');
  const streamed: string[] = [];
  cdp.on('Network.eventSourceMessageReceived', (m: { data: string }) => streamed.push(m.data));

  await openApp(page);
  await markWindow(page);
  const lists: string[] = [];
  page.on('request', (r) => r.url().includes('/api/list_uploads') && lists.push(r.url()));
  await page.getByLabel('Choose files').setInputFiles(path);

  const row = libraryRow(page, name);
  await expect(row).toHaveAttribute('data-status', 'uploaded', { timeout: 60_000 });
  await expect(row.locator('.status')).toHaveText('ready', { timeout: 60_000 });
  const thumbnail = row.locator('img.thumbnail');
  await expect(thumbnail).toBeVisible();
  await expect.poll(() => thumbnail.evaluate((img: HTMLImageElement) => img.naturalWidth)).toBe(320);
  await expect(row.locator('.details')).toContainText('1280 × 720');
  await windowWasNotReloaded(page);
  // The change came over the live stream; the library was fetched at most once more (when the
  // upload finished), never polled.
  const id = await row.getAttribute('data-upload-id');
  const ready = streamed.map((d) => JSON.parse(d)).filter((e) => e.upload?.id === id && e.upload?.file?.processing === 'ready');
  expect(ready.length, streamed.join('\n')).toBe(1);
  expect(lists.length).toBeLessThanOrEqual(1);
});

/** The store's answers to the page's ranged GETs of a video. */
function watchRanges(page: Page, store: string) {
  const answers: { status: number; range: string | null }[] = [];
  page.on('response', (r: Response) => {
    if (r.url().startsWith(store) && r.request().method() === 'GET') {
      answers.push({ status: r.status(), range: r.headers()['content-range'] ?? null });
    }
  });
  return answers;
}

test('a video plays, seeks with ranged requests, and plays for anyone with its link', async ({ page, browser }, testInfo) => {
  const store = process.env.HOIST_S3_ENDPOINT;
  if (!store) throw new Error('HOIST_S3_ENDPOINT is not set: run the tests with scripts/test.sh');
  const name = 'countdown.mp4';
  const path = testInfo.outputPath(name);
  // Large enough (about 20 MiB) that the player does not fetch it in one go.
  ffmpeg(path, [
    '-f', 'lavfi', '-i', 'testsrc=duration=40:size=640x360:rate=25,noise=alls=30:allf=t',
    '-f', 'lavfi', '-i', 'sine=frequency=440:duration=40',
    '-c:v', 'libx264', '-preset', 'veryfast', '-b:v', '4M', '-maxrate', '4M', '-bufsize', '2M', '-pix_fmt', 'yuv420p',
    '-c:a', 'aac', '-movflags', '+faststart', '-shortest',
  ]);

  await openApp(page);
  await page.getByLabel('Choose files').setInputFiles(path);
  const row = libraryRow(page, name);
  await expect(row.locator('.status')).toHaveText('ready', { timeout: 120_000 });
  await expect(row.locator('.details')).toContainText('640 × 360');
  await expect(row.locator('.details')).toContainText('0:40');

  await row.getByRole('link', { name }).click();
  const video = page.locator('video');
  await expect(video).toBeVisible();
  const ranges = watchRanges(page, store);
  await video.evaluate((v: HTMLVideoElement) => new Promise((ok) => {
    if (v.readyState >= 1) ok(null); else v.addEventListener('loadedmetadata', () => ok(null), { once: true });
  }));
  expect(await video.evaluate((v: HTMLVideoElement) => Math.round(v.duration))).toBe(40);
  await video.evaluate((v: HTMLVideoElement) => new Promise((ok) => {
    v.addEventListener('seeked', () => ok(null), { once: true });
    v.currentTime = v.duration / 2;
  }));
  await expect.poll(() => video.evaluate((v: HTMLVideoElement) => v.readyState)).toBeGreaterThanOrEqual(2);
  const past = ranges.filter((r) => r.status === 206 && r.range && Number(/bytes (\d+)-/.exec(r.range)?.[1]) > 0);
  expect(past.length, JSON.stringify(ranges)).toBeGreaterThan(0);

  // Shared by link: a fresh browser (no cookie, no account) opens the link and it plays.
  await page.getByLabel('Who can see it').selectOption('link');
  await page.getByRole('button', { name: 'Save' }).click();
  const link = page.getByLabel('Link to share');
  await expect(link).toHaveValue(/\/files\/.+\?key=/);
  const shared = await link.inputValue();
  const stranger = await browser.newContext();
  const other = await stranger.newPage();
  await other.goto(shared);
  const theirs = other.locator('video');
  await expect(theirs).toBeVisible();
  await theirs.evaluate((v: HTMLVideoElement) => { v.muted = true; return v.play(); });
  await expect.poll(() => theirs.evaluate((v: HTMLVideoElement) => v.currentTime), { timeout: 20_000 }).toBeGreaterThan(0.5);
  // Without the key the same page shows nothing of the file.
  await other.goto(shared.replace(/\?key=.*/, ''));
  await expect(other.getByRole('alert')).toHaveText('This upload does not exist.');
  await expect(other.locator('video')).toHaveCount(0);
  await stranger.close();
});
