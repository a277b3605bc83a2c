import { test, expect, Page, Response } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { libraryRow, openApp } from './helpers';

/** A video made by ffmpeg (installed by the scripts) from noise, read back. */
function ffmpeg(path: string, seconds: number, size: string, codec: string[]): Buffer {
  execFileSync('ffmpeg', [
    '-y', '-hide_banner', '-loglevel', 'error',
    '-f', 'lavfi', '-i', `testsrc2=duration=${seconds}:size=${size}:rate=30,noise=alls=12:allf=t`,
    '-f', 'lavfi', '-i', `sine=frequency=440:duration=${seconds}`,
    ...codec, '-g', '45', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-shortest', path,
  ]);
  return readFileSync(path);
}

/** Opens the file's page once its ladder has `rungs` rungs (reloading until then). */
async function openLadder(page: Page, name: string, rungs: number) {
  const row = libraryRow(page, name);
  await expect(row.locator('.status')).toHaveText('ready', { timeout: 240_000 });
  const id = await row.getAttribute('data-upload-id');
  await expect
    .poll(async () => {
      await page.goto(`/files/${id}`);
      await expect(page.locator('main[data-hydrated="true"]')).toBeAttached();
      return page.locator('#quality option').count();
    }, { timeout: 240_000, intervals: [1000] })
    .toBe(rungs + 1);
  return id;
}

/** The store's answers to the player's ranged GETs of renditions. */
function renditionRanges(page: Page) {
  const store = process.env.HOIST_S3_ENDPOINT;
  if (!store) throw new Error('HOIST_S3_ENDPOINT is not set: run the tests with scripts/test.sh');
  const seen: { key: string; status: number; start: number }[] = [];
  page.on('response', (r: Response) => {
    if (!r.url().startsWith(store) || !r.url().includes('.hls/')) return;
    const range = r.headers()['content-range'] ?? '';
    seen.push({ key: new URL(r.url()).pathname, status: r.status(), start: Number(/bytes (\d+)-/.exec(range)?.[1] ?? -1) });
  });
  return seen;
}

async function playing(page: Page) {
  const video = page.locator('video#player');
  await video.evaluate((v: HTMLVideoElement) => { v.muted = true; return v.play(); });
  await expect.poll(() => video.evaluate((v: HTMLVideoElement) => v.currentTime), { timeout: 30_000 }).toBeGreaterThan(0.5);
  return video;
}

test('an H.264 video plays from its ladder, switches quality from the menu, and seeks by byte ranges', async ({ page }, testInfo) => {
  const name = 'phone.mp4';
  const path = testInfo.outputPath(name);
  ffmpeg(path, 16, '1920x1080', ['-c:v', 'libx264', '-preset', 'ultrafast']);
  await openApp(page);
  await page.getByLabel('Choose files').setInputFiles(path);
  // Its page, opened as soon as it has arrived: the ladder appears there as its rungs are
  // made, without a reload.
  const row = libraryRow(page, name);
  await expect(row).toHaveAttribute('data-status', 'uploaded', { timeout: 60_000 });
  await row.getByRole('link', { name }).click();
  await expect(page.locator('main[data-hydrated="true"]')).toBeAttached();
  await page.evaluate(() => ((window as any).__hoistMark = 'still here'));
  const ranges = renditionRanges(page);
  const menu = page.getByLabel('Quality');
  await expect(menu.locator('option')).toHaveText(['Auto', '1080p', '720p', '360p'], { timeout: 240_000 });
  expect(await page.evaluate(() => (window as any).__hoistMark)).toBe('still here');
  await expect(page.locator('.jobs li[data-kind="hls-360"]')).toHaveAttribute('data-state', 'done');
  await expect(menu).toHaveValue('-1');
  const video = await playing(page);
  // The menu holds a rung: the player switches to it and stays there.
  await menu.selectOption({ label: '360p' });
  await expect(video).toHaveAttribute('data-level', '360', { timeout: 30_000 });
  await expect.poll(() => ranges.filter((r) => r.key.endsWith('/360.mp4') && r.status === 206).length).toBeGreaterThan(0);
  // A seek near the end fetches a range of a rendition from far into it.
  await video.evaluate((v: HTMLVideoElement) => (v.currentTime = v.duration * 0.8));
  await expect
    .poll(() => video.evaluate((v: HTMLVideoElement) => v.currentTime), { timeout: 30_000 })
    .toBeGreaterThan(12);
  const far = ranges.filter((r) => r.status === 206 && r.start > 100_000);
  expect(far.length, JSON.stringify(ranges)).toBeGreaterThan(0);
});

test('a HEVC .mov plays after transcoding, and the library shows the transcode moving without a reload', async ({ page }, testInfo) => {
  const name = 'screen.mov';
  const path = testInfo.outputPath(name);
  ffmpeg(path, 30, '1280x720', ['-c:v', 'libx265', '-preset', 'ultrafast', '-tag:v', 'hvc1']);
  await openApp(page);
  await page.evaluate(() => ((window as any).__hoistMark = 'still here'));
  await page.getByLabel('Choose files').setInputFiles(path);
  const bar = page.getByRole('progressbar', { name: `Processing progress for ${name}` });
  // Two different percentages on the same page: the bar moved, live.
  const seen = new Set<string>();
  await expect
    .poll(async () => {
      const now = await bar.getAttribute('aria-valuenow', { timeout: 1000 }).catch(() => null);
      if (now !== null) seen.add(now);
      return seen.size;
    }, { timeout: 240_000, intervals: [200] })
    .toBeGreaterThanOrEqual(2);
  await expect(libraryRow(page, name).locator('.processing-percent')).toContainText('%');
  expect(await page.evaluate(() => (window as any).__hoistMark)).toBe('still here');

  await openLadder(page, name, 2);
  await expect(page.getByLabel('Quality').locator('option')).toHaveText(['Auto', '720p', '360p']);
  await playing(page);
});

test('a video too large to transcode plays as uploaded, and its page says why', async ({ page }, testInfo) => {
  const name = 'banner.mp4';
  const path = testInfo.outputPath(name);
  // 8000 pixels wide (and 64 high): past the 4,096 a side the server transcodes by default.
  execFileSync('ffmpeg', [
    '-y', '-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc2=duration=2:size=8000x64:rate=10',
    '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', path,
  ]);
  await openApp(page);
  await page.getByLabel('Choose files').setInputFiles(path);
  const row = libraryRow(page, name);
  await expect(row.locator('.status')).toHaveText('ready', { timeout: 120_000 });
  await row.getByRole('link', { name }).click();
  const job = page.locator('.jobs li[data-kind="hls"]');
  await expect(job).toHaveAttribute('data-state', 'skipped');
  await expect(job.locator('.reason')).toHaveText('8000 × 64 is larger than the 4096 pixels a side this server transcodes; it plays as uploaded');
  // The file as uploaded, in a plain <video>: no ladder, no menu.
  await expect(page.locator('video')).toHaveAttribute('src', /\/content$/);
  await expect(page.getByLabel('Quality')).toHaveCount(0);
});
