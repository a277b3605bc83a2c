import { expect, Page } from '@playwright/test';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

export const MIB = 1024 * 1024;

export function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Bytes the app server has read so far (from sockets and files alike), from /proc/<pid>/io. */
export function appBytesRead(): number {
  const pid = process.env.HOIST_SERVER_PID;
  if (!pid) throw new Error('HOIST_SERVER_PID is not set: run the tests with scripts/test.sh');
  const io = readFileSync(`/proc/${pid}/io`, 'utf8');
  const match = io.match(/^rchar:\s+(\d+)$/m);
  if (!match) throw new Error(`no rchar in /proc/${pid}/io`);
  return Number(match[1]);
}

/** Opens the app and waits until it is interactive (hydrated). */
export async function openApp(page: Page): Promise<void> {
  await page.goto('/');
  await expect(page.locator('main[data-hydrated="true"]')).toBeAttached();
}

/** The library's row for a file name. */
export function libraryRow(page: Page, name: string) {
  return page.locator('.library tbody tr').filter({ has: page.locator('td.name', { hasText: name }) });
}

/** The file's row says `failed`, with `message` next to it. Returns the row. */
export async function expectFailed(page: Page, name: string, message: string | RegExp) {
  const task = page.locator('.task', { hasText: name });
  await expect(task.locator('.task-status')).toHaveText('failed');
  await expect(task.getByRole('alert')).toHaveText(message);
  return task;
}
