// The processes the fault tests kill: the local Garage that every test shares, and an app
// instance of the test's own. scripts/test.sh says where they are.
import { expect } from '@playwright/test';
import { ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { resolve } from 'node:path';

function env(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run the tests with scripts/test.sh`);
  return value;
}

/** Polls `check` until it holds, failing after `ms`. */
async function until(what: string, ms: number, check: () => Promise<boolean>) {
  await expect.poll(() => check().catch(() => false), { message: what, timeout: ms, intervals: [200] }).toBe(true);
}

async function answers(url: string): Promise<boolean> {
  const response = await fetch(url).catch(() => null);
  return response !== null;
}

/** The local Garage: SIGKILL it, and start it again with the same configuration and data. */
export const garage = {
  kill() {
    const pid = Number(readFileSync(resolve(env('HOIST_S3_DIR'), 'garage.pid'), 'utf8'));
    process.kill(pid, 'SIGKILL');
  },
  async start() {
    const dir = env('HOIST_S3_DIR');
    const log = openSync(resolve(dir, 'garage.log'), 'a');
    const child = spawn('garage', ['-c', resolve(dir, 'garage.toml'), 'server'], {
      detached: true,
      stdio: ['ignore', log, log],
    });
    child.unref();
    // scripts/test.sh stops whatever this file names when the tests end.
    writeFileSync(resolve(dir, 'garage.pid'), String(child.pid));
    await until('Garage answers again', 60_000, () => answers(env('HOIST_S3_ENDPOINT')));
  },
};

export async function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.on('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => done(port));
    });
  });
}

/** A Hoist server of the test's own, on `port` with its data in `dir`: killable at will. */
export class OwnApp {
  private child?: ChildProcess;
  readonly base: string;

  constructor(
    private readonly dir: string,
    private readonly port: number,
    private readonly settings: Record<string, string> = {},
  ) {
    this.base = `http://127.0.0.1:${port}`;
    mkdirSync(dir, { recursive: true });
  }

  async start() {
    const logPath = resolve(this.dir, 'server.log');
    const log = openSync(logPath, 'a');
    const started = readFileSync(logPath, 'utf8').length;
    this.child = spawn(env('HOIST_APP_BIN'), [], {
      env: {
        ...process.env,
        HOIST_DATA_DIR: this.dir,
        LEPTOS_SITE_ADDR: `127.0.0.1:${this.port}`,
        LEPTOS_SITE_ROOT: env('HOIST_SITE_ROOT'),
        LEPTOS_ENV: 'PROD',
        HOIST_MAX_FILE_SIZE: '1GiB',
        ...this.settings,
      },
      stdio: ['ignore', log, log],
    });
    await until('the app answers', 60_000, () => answers(`${this.base}/healthz`));
    // Browsers can PUT to the bucket only once the app has set its CORS rule.
    await until('the CORS rule is set', 60_000, async () =>
      readFileSync(logPath, 'utf8').slice(started).includes('bucket CORS rule set'),
    );
  }

  /** SIGKILL: no goodbye, as a crash or an OOM kill. */
  kill() {
    this.child?.kill('SIGKILL');
  }
}
