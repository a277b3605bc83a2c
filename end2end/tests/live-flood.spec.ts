// The live feed under a flood, as one host that means harm would send it: 4,096 `GET /events`
// that never read, each with a session cookie (a cookie per 16 streams, so that the per-session
// cap alone would let them all in). A real page in Chromium must still load and upload, and
// `/healthz` answer, within a second; the streams past the network's share are refused with
// 429. The app is the test's own: every browser test comes from 127.0.0.1, one network, and
// this one fills that network's share of the feed on purpose.
import { test, expect } from '@playwright/test';
import { connect, Socket } from 'node:net';
import { libraryRow, openApp } from './helpers';
import { freePort, OwnApp } from './processes';

const STREAMS = 4096;
/** HOIST_LIVE_PER_NETWORK's default. */
const PER_NETWORK = 64;

/** A fresh guest's session cookie (`name=value`), as any GET hands one out. */
async function mint(base: string): Promise<string> {
  const response = await fetch(`${base}/healthz`);
  const set = response.headers.get('set-cookie');
  if (!set) throw new Error('no guest cookie from /healthz');
  return set.split(';')[0];
}

type Opened = { socket: Socket; status: number; head: string; closed: Promise<boolean> };

/** `GET /events` on a socket of its own; reads the response's head, then never reads again. */
function open(port: number, cookie: string): Promise<Opened> {
  return new Promise((done, fail) => {
    const socket = connect(port, '127.0.0.1');
    const closed = new Promise<boolean>((ended) => socket.once('close', () => ended(true)));
    socket.once('error', fail);
    socket.once('connect', () =>
      socket.write(
        `GET /events HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAccept: text/event-stream\r\nCookie: ${cookie}\r\n\r\n`,
      ),
    );
    socket.once('data', (chunk) => {
      // Nothing more is read from a stream that was let in: its events pile up unread.
      socket.pause();
      const head = chunk.toString('latin1').toLowerCase();
      const status = Number(head.split(' ')[1]);
      if (status !== 200) socket.resume();
      done({ socket, status, head, closed });
    });
  });
}

async function inBatches<T>(count: number, width: number, each: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = [];
  for (let first = 0; first < count; first += width) {
    const batch = Array.from({ length: Math.min(width, count - first) }, (_, k) => each(first + k));
    out.push(...(await Promise.all(batch)));
  }
  return out;
}

test('4,096 live streams that never read leave a real page its upload within a second', async ({ page }, testInfo) => {
  test.setTimeout(300_000);
  const port = await freePort();
  const app = new OwnApp(testInfo.outputPath('app'), port, {
    HOIST_ALLOWED_TYPES: 'application/octet-stream, text/*',
  });
  await app.start();
  const sockets: Socket[] = [];
  try {
    const cookies = await inBatches(STREAMS / 16, 32, () => mint(app.base));
    const opened = await inBatches(STREAMS, 512, (i) => open(port, cookies[Math.floor(i / 16)]));
    sockets.push(...opened.map((o) => o.socket));
    // With all of that open, a person's page is still served.
    const askedHealth = Date.now();
    const health = await fetch(`${app.base}/healthz`, { signal: AbortSignal.timeout(1000) });
    expect(health.status).toBe(200);
    const healthMs = Date.now() - askedHealth;

    const askedPage = Date.now();
    await openApp(page, app.base);
    const pageMs = Date.now() - askedPage;
    const name = 'through-the-flood.txt';
    const choose = Date.now();
    await page.getByLabel('Choose files').setInputFiles({ name, mimeType: 'text/plain', buffer: Buffer.from('made it\n') });
    await expect(libraryRow(page, name)).toHaveAttribute('data-status', 'uploaded', { timeout: 1000 });
    const uploadMs = Date.now() - choose;
    const held = opened.filter((o) => o.status === 200);
    const refused = opened.filter((o) => o.status === 429);
    expect(held.length, 'one network holds at most its share of the feed').toBe(PER_NETWORK);
    expect(refused.length, 'every other stream is refused').toBe(STREAMS - PER_NETWORK);
    for (const r of refused) {
      expect(r.head).toContain('\r\nretry-after:');
      expect(r.head).toContain('\r\nconnection: close');
    }
    // A refusal closes its connection: it holds no place on the server.
    const closed = await Promise.all(refused.map((r) => Promise.race([r.closed, new Promise<boolean>((t) => setTimeout(() => t(false), 10_000))])));
    expect(closed.every(Boolean), 'every refused connection is closed by the server').toBe(true);

    // Still held, unread: the flood lasted the whole time.
    expect(held.every((h) => !h.socket.destroyed)).toBe(true);

    const line = `live flood: ${held.length} streams held, ${refused.length} refused with 429; /healthz in ${healthMs} ms, the page hydrated in ${pageMs} ms, its upload done in ${uploadMs} ms`;
    console.log(line);
    testInfo.annotations.push({ type: 'measurement', description: line });
  } finally {
    for (const socket of sockets) socket.destroy();
    app.kill();
  }
});
