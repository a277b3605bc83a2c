// Faults the product must survive: the store or the app server killed outright in the middle of
// an upload. The upload carries on by itself once they are back, and what arrives is the file.
import { test, expect, Page, TestInfo } from '@playwright/test';
import {
  bar,
  barsNeverWentBack,
  expectDownloadMatches,
  MIB,
  openApp,
  randomFile,
  recordBars,
  throttleUploads,
  untilPercent,
  watchPlans,
  watchStorePuts,
} from './helpers';
import { freePort, garage, OwnApp } from './processes';

const SIZE = 100 * MIB;

test('the store killed at 30 % and back after the engine retried: the upload completes by itself, bytes intact', async ({ page }, testInfo) => {
  const name = 'store-dies.bin';
  const { path, data } = randomFile(testInfo, name, SIZE);
  await openApp(page);
  await throttleUploads(page, 10 * MIB);
  await recordBars(page);
  const store = watchStorePuts(page);

  await page.getByLabel('Choose files').setInputFiles(path);
  await untilPercent(page, name, 30, 120_000);
  garage.kill();
  store.mark();
  const killedAt = Date.now();
  let percentAtKill: number;
  try {
    percentAtKill = Number(await bar(page, name).getAttribute('aria-valuenow'));
    // The store stays away until the engine has shown it keeps trying: one part refused
    // three times since the kill (a few seconds of backoff), as a restart or failover would.
    const mostRetries = () => {
      const failures = new Map<number, number>();
      for (const p of store.of(name).filter((p) => p.afterMark && p.failed)) {
        failures.set(p.part, (failures.get(p.part) ?? 0) + 1);
      }
      return Math.max(0, ...failures.values());
    };
    await expect.poll(mostRetries, { timeout: 60_000 }).toBeGreaterThanOrEqual(3);
  } finally {
    // Every other test needs the store, whatever happened here.
    await garage.start();
  }
  const backAfter = (Date.now() - killedAt) / 1000;

  await expect(bar(page, name)).toHaveAttribute('aria-valuenow', '100', { timeout: 240_000 });
  await expectDownloadMatches(page, name, data);
  const samples = await barsNeverWentBack(page);
  const failed = store.of(name).filter((p) => p.failed || (p.status ?? 200) >= 400).length;
  expect(failed, 'some part PUTs were cut off by the kill').toBeGreaterThan(0);
  console.log(
    `store killed at ${percentAtKill} %, back after ${backAfter.toFixed(1)} s; ${failed} part PUTs cut off and sent again; ${samples} bar samples never went back`,
  );
});

test('the app server killed at 30 % and started again: the page carries the upload to the end', async ({ page }, testInfo) => {
  const app = new OwnApp(testInfo.outputPath('app'), await freePort());
  await app.start();
  try {
    await uploadThroughADyingServer(page, app, testInfo);
  } finally {
    app.kill();
  }
});

async function uploadThroughADyingServer(page: Page, app: OwnApp, testInfo: TestInfo) {
  const name = 'server-dies.bin';
  const { path, data } = randomFile(testInfo, name, SIZE);
  await openApp(page, app.base);
  await throttleUploads(page, 10 * MIB);
  await recordBars(page);
  const store = watchStorePuts(page);
  const plans = watchPlans(page);

  await page.getByLabel('Choose files').setInputFiles(path);
  await untilPercent(page, name, 30, 120_000);
  app.kill();
  const percentAtKill = Number(await bar(page, name).getAttribute('aria-valuenow'));
  await app.start();

  await expect(bar(page, name)).toHaveAttribute('aria-valuenow', '100', { timeout: 240_000 });
  await expectDownloadMatches(page, name, data);
  await barsNeverWentBack(page);
  // The bytes never went through the app, so its death cost no part a second trip.
  const plan = plans.get(name)!;
  const parts = Math.ceil(plan.size / plan.part_size);
  const stored = store.of(name).filter((p) => p.status === 200);
  expect(stored.length).toBe(parts);
  expect(new Set(stored.map((p) => p.part)).size).toBe(parts);
  console.log(`app killed at ${percentAtKill} % and restarted; ${parts} parts, each PUT once`);
}
