import { test, expect, Page } from '@playwright/test';
import { randomBytes } from 'node:crypto';
import { libraryRow, MIB, openApp } from './helpers';
import { multipartUploadsUnder, objectsUnder } from './s3';

// scripts/test.sh runs an app whose accounts may keep 30 MiB, under a prefix of its own.
const QUOTA_APP = process.env.HOIST_SMALL_QUOTA_BASE_URL ?? '';
const PREFIX = 'small-quota/';
const PASSWORD = 'a long enough password';

let people = 0;
function newEmail(): string {
  people += 1;
  return `person-${Date.now()}-${people}@example.com`;
}

async function signUp(page: Page, email: string) {
  await page.getByRole('button', { name: 'Sign up' }).click();
  const form = page.getByRole('form', { name: 'Sign up' });
  await form.getByLabel('Email').fill(email);
  await form.getByLabel('Password').fill(PASSWORD);
  await form.getByRole('button', { name: 'Sign up' }).click();
  await expect(page.locator('.account .email')).toHaveText(email);
}

async function signIn(page: Page, email: string) {
  await page.getByRole('button', { name: 'Sign in' }).click();
  const form = page.getByRole('form', { name: 'Sign in' });
  await form.getByLabel('Email').fill(email);
  await form.getByLabel('Password').fill(PASSWORD);
  await form.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.locator('.account .email')).toHaveText(email);
}

async function signOut(page: Page) {
  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page.getByRole('button', { name: 'Sign in' })).toBeVisible();
  await expect(page.locator('main[data-hydrated="true"]')).toBeAttached();
}

function meter(page: Page) {
  return page.getByLabel('Storage used');
}

async function upload(page: Page, name: string, size: number) {
  await page.getByLabel('Choose files').setInputFiles({ name, mimeType: 'application/octet-stream', buffer: randomBytes(size) });
  await expect(libraryRow(page, name)).toHaveAttribute('data-status', 'uploaded', { timeout: 60_000 });
}

test('a person signs up, uploads and sees the meter move; someone else never sees the file', async ({ page }) => {
  await openApp(page, QUOTA_APP);
  const ann = newEmail();
  await signUp(page, ann);
  await expect(meter(page)).toHaveAttribute('aria-valuetext', '0 B of 30 MiB');
  await upload(page, 'ann-notes.bin', 5 * MIB);
  await expect(meter(page)).toHaveAttribute('aria-valuetext', '5.0 MiB of 30 MiB');
  await expect(page.locator('.account .usage')).toHaveText('5.0 MiB of 30 MiB');

  await signOut(page);
  await expect(libraryRow(page, 'ann-notes.bin')).toHaveCount(0);
  const ben = newEmail();
  await signUp(page, ben);
  await expect(page.locator('.library')).toContainText('No files yet.');
  await expect(libraryRow(page, 'ann-notes.bin')).toHaveCount(0);
  // And the link does not open it for him either.
  await signOut(page);
  await signIn(page, ann);
  await expect(libraryRow(page, 'ann-notes.bin')).toHaveAttribute('data-status', 'uploaded');
});

test('a wrong password is said next to the password field', async ({ page }) => {
  await openApp(page, QUOTA_APP);
  const email = newEmail();
  await signUp(page, email);
  await signOut(page);
  await page.getByRole('button', { name: 'Sign in' }).click();
  const form = page.getByRole('form', { name: 'Sign in' });
  await form.getByLabel('Email').fill(email);
  await form.getByLabel('Password').fill('not the password');
  await form.getByRole('button', { name: 'Sign in' }).click();
  await expect(form.locator('#password-error')).toHaveText('The email or the password is not right.');
  await expect(form.getByLabel('Password')).toHaveAttribute('aria-invalid', 'true');
  // Signing up with an email that has an account says nothing of it (the server answers as for
  // a new one); the page then signs in with what was typed, which fails unless it was that
  // account's password, and says so where the password is.
  await page.getByRole('button', { name: 'Sign up' }).click();
  const up = page.getByRole('form', { name: 'Sign up' });
  await up.getByLabel('Email').fill(email);
  await up.getByLabel('Password').fill('another long password');
  await up.getByRole('button', { name: 'Sign up' }).click();
  await expect(up.locator('#password-error')).toHaveText('The email or the password is not right.');
  await expect(page.getByRole('button', { name: 'Sign out' })).toHaveCount(0);
});

test('a file too big for the room left is refused in words, and nothing of it reaches the bucket', async ({ page }) => {
  await openApp(page, QUOTA_APP);
  await signUp(page, newEmail());
  await upload(page, 'twenty.bin', 20 * MIB);
  await expect(meter(page)).toHaveAttribute('aria-valuetext', '20 MiB of 30 MiB');
  const objects = await objectsUnder(PREFIX);
  const pending = await multipartUploadsUnder(PREFIX);

  await page.getByLabel('Choose files').setInputFiles({ name: 'twelve.bin', mimeType: 'application/octet-stream', buffer: randomBytes(12 * MIB) });
  const task = page.locator('.task', { hasText: 'twelve.bin' });
  await expect(task).toHaveAttribute('data-phase', 'failed');
  await expect(task).toContainText('This file (12 MiB) does not fit in your storage: 10 MiB of 30 MiB left.');
  expect(await objectsUnder(PREFIX)).toBe(objects);
  expect(await multipartUploadsUnder(PREFIX)).toBe(pending);
  await expect(libraryRow(page, 'twelve.bin')).toHaveCount(0);
  await expect(meter(page)).toHaveAttribute('aria-valuetext', '20 MiB of 30 MiB');
});

test('deleting a file asks once more, then frees its room and its object', async ({ page }) => {
  await openApp(page, QUOTA_APP);
  await signUp(page, newEmail());
  await upload(page, 'short-lived.bin', 3 * MIB);
  await expect(meter(page)).toHaveAttribute('aria-valuetext', '3.0 MiB of 30 MiB');
  const objects = await objectsUnder(PREFIX);

  const row = libraryRow(page, 'short-lived.bin');
  await row.getByRole('button', { name: 'Delete', exact: true }).click();
  // Changing one's mind keeps the file.
  await row.getByRole('button', { name: 'Keep' }).click();
  await expect(row).toHaveCount(1);
  await row.getByRole('button', { name: 'Delete', exact: true }).click();
  await row.getByRole('button', { name: 'Delete for good' }).click();
  await expect(libraryRow(page, 'short-lived.bin')).toHaveCount(0);
  await expect(meter(page)).toHaveAttribute('aria-valuetext', '0 B of 30 MiB');
  await expect.poll(() => objectsUnder(PREFIX)).toBe(objects - 1);
});

test('a server that says "slow down" is waited for as long as it asks, then the file goes', async ({ page }) => {
  await openApp(page);
  const calls: number[] = [];
  let refused = false;
  await page.route('**/api/start_uploads', async (route) => {
    calls.push(Date.now());
    if (!refused) {
      refused = true;
      await route.fulfill({
        status: 429,
        headers: { 'retry-after': '2', 'content-type': 'application/json', serverfnerror: '/api/start_uploads' },
        body: JSON.stringify({ error: 'RateLimited', detail: { retry_after_secs: 2 }, message: 'Too many requests' }),
      });
      return;
    }
    await route.continue();
  });
  const name = 'patient.txt';
  await page.getByLabel('Choose files').setInputFiles({ name, mimeType: 'text/plain', buffer: Buffer.from('worth the wait\n') });
  await expect(libraryRow(page, name)).toHaveAttribute('data-status', 'uploaded');
  expect(calls.length).toBeGreaterThanOrEqual(2);
  const waited = calls[1] - calls[0];
  console.log(`429 with Retry-After: 2 → asked again after ${waited} ms`);
  expect(waited).toBeGreaterThanOrEqual(2000);
});

test('a token made on the account page works for a program until it is revoked there', async ({ page, playwright }) => {
  await openApp(page, QUOTA_APP);
  const email = newEmail();
  await signUp(page, email);
  await page.getByRole('link', { name: 'Account' }).click();
  await expect(page.getByRole('heading', { name: 'API tokens' })).toBeVisible();
  await page.getByLabel('Name').fill('nightly backup');
  await page.locator('.token-form input[name=password]').fill(PASSWORD);
  await page.getByRole('button', { name: 'Create token' }).click();
  const secret = (await page.locator('.new-token .secret').textContent()) ?? '';
  expect(secret).toMatch(/^hoist_[0-9a-f]{64}$/);
  const row = page.locator('table.tokens tr', { hasText: 'nightly backup' });
  await expect(row).toContainText('never');

  // A program, with no cookie at all.
  const program = await playwright.request.newContext({ baseURL: QUOTA_APP });
  const whoami = () => program.post('/api/whoami', { headers: { authorization: `Bearer ${secret}` } });
  const me = await whoami();
  expect(me.status()).toBe(200);
  expect((await me.json()).email).toBe(email);

  await row.getByRole('button', { name: 'Revoke' }).click();
  await expect(page.locator('table.tokens tr', { hasText: 'nightly backup' })).toHaveCount(0);
  expect((await whoami()).status()).toBe(401);
  await program.dispose();
});
