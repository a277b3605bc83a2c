// What reading a file's SHA-256 in the browser before sending it costs, and what it saves: in
// one page (one guest), for each size, a fresh file is picked and timed until the server has
// verified it; once processing has hashed it, a copy of it under another name is picked and
// timed the same way (the server answers "already stored" when the page sent the hash). Run
// against a server that asks for the hash first and one that does not (HOIST_BROWSER_HASH_MAX),
// the difference on fresh files is the cost, the time of the copy the saving.
//   node bench/hash_first.mjs PAGE_URL ORIGINAL COPY [ORIGINAL COPY...]
// Prints one JSON line per pair: {mib, fresh_s, copy_s}.
import { createRequire } from 'node:module';
import { statSync } from 'node:fs';
import { basename } from 'node:path';

const require = createRequire(new URL('../end2end/package.json', import.meta.url));
const { chromium } = require('@playwright/test');

const [pageUrl, ...files] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--headless', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
});
const page = await (await browser.newContext()).newPage();
await page.goto(pageUrl);
await page.locator('main[data-hydrated="true"]').waitFor({ state: 'attached' });

const row = (name) => page.locator('.library tbody tr').filter({ has: page.locator('td.name', { hasText: name }) });
/** Seconds from picking `path` to its row saying `uploaded` (verified by the server). */
async function timed(path) {
  const started = performance.now();
  await page.getByLabel('Choose files').setInputFiles(path);
  await row(basename(path)).and(page.locator('[data-status="uploaded"]')).waitFor({ timeout: 300_000 });
  return (performance.now() - started) / 1000;
}

for (let i = 0; i + 1 < files.length; i += 2) {
  const [original, copy] = [files[i], files[i + 1]];
  const fresh = await timed(original);
  // The server knows the content once its hash job is done.
  await row(basename(original)).locator('.status', { hasText: 'ready' }).waitFor({ timeout: 300_000 });
  const again = await timed(copy);
  console.log(JSON.stringify({ mib: statSync(original).size / 1048576, fresh_s: fresh, copy_s: again }));
}
await browser.close();
