// Bytes are proven, not trusted: each part carries a checksum signed into its URL, the store
// refuses bytes that differ, and the server reads the start of every upload to check its type.
import { test, expect } from '@playwright/test';
import { writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  expectDownloadMatches,
  expectFailed,
  libraryRow,
  MIB,
  openApp,
  partLength,
  randomFile,
  throttleUploads,
  untilPercent,
  watchPlans,
  watchStorePuts,
} from './helpers';
import { multipartUploadsUnder, objectsUnder } from './s3';

const STORE = process.env.HOIST_S3_ENDPOINT ?? 'http://127.0.0.1:3900';

test('a part damaged on the way is refused by the store and sent again from the file', async ({ page }, testInfo) => {
  const name = 'damaged-on-the-way.bin';
  const { path, data } = randomFile(testInfo, name, 40 * MIB);
  await openApp(page);
  const plans = watchPlans(page);
  const store = watchStorePuts(page);

  // The first PUT of part 2 has one bit flipped between the browser and the store.
  let damaged = 0;
  const checksumHeaders: string[] = [];
  await page.route(`${STORE}/**`, async (route) => {
    const request = route.request();
    if (request.method() !== 'PUT') return route.continue();
    checksumHeaders.push(...Object.keys(request.headers()).filter((h) => h.startsWith('x-amz-checksum-')));
    const part = Number(new URL(request.url()).searchParams.get('partNumber'));
    if (part !== 2 || damaged > 0) return route.continue();
    damaged += 1;
    const plan = plans.get(name)!;
    const start = plan.part_size;
    const body = Buffer.from(data.subarray(start, start + partLength(plan, 2)));
    body[1234] ^= 0x01;
    return route.continue({ postData: body });
  });

  await page.getByLabel('Choose files').setInputFiles(path);
  await expectDownloadMatches(page, name, data);

  expect(damaged).toBe(1);
  // Every part went with its checksum, and the store refused the damaged one.
  expect(checksumHeaders.length).toBeGreaterThanOrEqual(4);
  const part2 = () => store.of(name).filter((p) => p.part === 2).map((p) => p.status);
  await expect.poll(part2, { timeout: 10_000 }).toEqual([400, 200]);
  console.log(`part 2 PUTs: ${part2().join(', ')}; checksum header: ${[...new Set(checksumHeaders)]}`);
});

test('a file changed on disk during its upload stops with a clear message', async ({ page }, testInfo) => {
  const name = 'changes-under-me.bin';
  const { path } = randomFile(testInfo, name, 48 * MIB);
  await openApp(page);
  await throttleUploads(page, 8 * MIB);
  await page.getByLabel('Choose files').setInputFiles(path);
  await untilPercent(page, name, 5);

  // Someone saves a new version of the file while it uploads.
  writeFileSync(path, randomBytes(48 * MIB));

  const task = await expectFailed(
    page,
    name,
    /changes-under-me\.bin (can no longer be read|changed while it was being uploaded)/,
    60_000,
  );
  console.log(`shown: ${await task.getByRole('alert').textContent()}`);
  // Nothing of it became a file in the library.
  await expect(libraryRow(page, name).filter({ hasText: 'uploaded' })).toHaveCount(0);
});

test('a part the store refuses whose bytes changed on disk stops the file: the checksum path', async ({ page }, testInfo) => {
  // Deterministic: as part 2's first PUT leaves (the last to go), the file is rewritten in place
  // (same size, old timestamp put back, so the browser cannot tell) and that PUT loses a bit on
  // the way. The
  // store refuses it for its checksum; the engine reads part 2 again from the file, gets another
  // checksum, and so knows the file itself changed: it stops rather than send other bytes.
  const name = 'sneaky-rewrite.bin';
  const { path, data } = randomFile(testInfo, name, 48 * MIB);
  const stamp = testInfo.outputPath('timestamp');
  execFileSync('cp', ['--preserve=timestamps', path, stamp]);
  await openApp(page);
  const plans = watchPlans(page);
  const store = watchStorePuts(page);
  let rewritten = false;
  await page.route(`${STORE}/**`, async (route) => {
    const request = route.request();
    const part = Number(new URL(request.url()).searchParams.get('partNumber'));
    if (request.method() !== 'PUT' || part !== 2 || rewritten) return route.continue();
    rewritten = true;
    const plan = plans.get(name)!;
    // The other parts are streamed from the file as they are sent: rewriting it under them makes
    // Chromium refuse to read them ("can no longer be read", the previous test's path). Part 2
    // is held back until they have arrived, so only the store's checksum can tell.
    const others = Math.ceil(plan.size / plan.part_size) - 1;
    const arrived = () => store.of(name).filter((p) => p.part !== 2 && p.status === 200).length;
    await expect.poll(arrived, { timeout: 30_000 }).toBe(others);
    writeFileSync(path, randomBytes(48 * MIB));
    execFileSync('touch', ['-r', stamp, path]);
    const body = Buffer.from(data.subarray(plan.part_size, plan.part_size + partLength(plan, 2)));
    body[99] ^= 0x80;
    return route.continue({ postData: body });
  });
  await page.getByLabel('Choose files').setInputFiles(path);

  const task = await expectFailed(page, name, /sneaky-rewrite\.bin changed while it was being uploaded/, 60_000);
  expect(rewritten).toBe(true);
  const part2 = () => store.of(name).filter((p) => p.part === 2).map((p) => p.status);
  // Refused once for its checksum, and never sent again with other bytes. (The page may show
  // the message before Playwright has reported the refused PUT's response: wait for it.)
  await expect.poll(part2, { timeout: 10_000 }).toEqual([400]);
  console.log(`rewritten file: "${await task.getByRole('alert').textContent()}"; part 2 PUTs: ${part2()}`);
  await expect(libraryRow(page, name).filter({ hasText: 'uploaded' })).toHaveCount(0);
});

test('an executable posing as a PNG is rejected, with the reason, and nothing is kept', async ({ page }) => {
  await openApp(page);
  const name = 'holiday.png';
  const elf = Buffer.concat([Buffer.from('7f454c46020101000000000000000000', 'hex'), Buffer.from('02003e00', 'hex'), randomBytes(4096)]);
  await page.getByLabel('Choose files').setInputFiles({ name, mimeType: 'image/png', buffer: elf });

  await expectFailed(page, name, /The file was rejected: its content is application\/x-executable \(\.elf\), not image\/png/);
  const row = libraryRow(page, name);
  await expect(row.locator('.status')).toHaveText('rejected');
  await expect(row.locator('.reason')).toHaveText(/not image\/png/);
  const id = await row.getAttribute('data-upload-id');
  expect(id).toBeTruthy();
  expect(await objectsUnder(`hoist/${id}/`)).toBe(0);
  expect(await multipartUploadsUnder(`hoist/${id}/`)).toBe(0);
});
