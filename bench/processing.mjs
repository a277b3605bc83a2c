// What follows an upload, measured against a running Hoist: the time from `complete_upload`'s
// answer to the file's `ready` event for a 20 MiB image and a 20 MiB video, and the live feed
// under load (N idle clients connected, events per second to one watching client, the
// server's memory). Speaks the protocol itself (start, sign, PUT to the store, complete), as
// any client may. Not a test. Prints one JSON line.
//
//   node bench/processing.mjs BASE_URL SERVER_PID IMAGE VIDEO CLIENTS EVENTS
import { readFileSync } from 'node:fs';

const [base, pid, imagePath, videoPath, clientCount, eventCount] = process.argv.slice(2);
const CLIENTS = Number(clientCount);
const EVENTS = Number(eventCount);

function rssMiB() {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)[1]) / 1024;
}

/** A client with a cookie of its own (a guest session). */
class Client {
  cookie = '';
  async call(name, fields) {
    const body = new URLSearchParams();
    for (const [k, v] of Object.entries(fields)) body.append(k, String(v));
    const answer = await fetch(`${base}/api/${name}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: this.cookie },
      body,
    });
    this.keep(answer);
    const text = await answer.text();
    if (!answer.ok) throw new Error(`${name}: ${answer.status} ${text}`);
    return JSON.parse(text);
  }
  keep(answer) {
    const set = answer.headers.get('set-cookie');
    if (set) this.cookie = set.split(';')[0];
  }
  async upload(name, type, data) {
    const started = await this.call('start_upload', { name, size: data.length, content_type: type });
    const id = started.upload_id;
    const { size, part_size } = started.plan;
    const count = Math.max(1, Math.ceil(size / part_size));
    const fields = { upload_id: id };
    for (let n = 1; n <= count; n++) fields[`parts[${n - 1}][part_number]`] = n;
    const signed = await this.call('sign_parts', fields);
    await Promise.all(signed.map(async (part) => {
      const start = (part.part_number - 1) * part_size;
      const body = data.subarray(start, Math.min(size, start + part_size));
      const headers = Object.fromEntries(part.request.headers);
      const put = await fetch(part.request.url, { method: 'PUT', headers, body });
      if (!put.ok) throw new Error(`part ${part.part_number}: ${put.status}`);
    }));
    await this.call('complete_upload', { upload_id: id });
    return { id, completedAt: performance.now() };
  }
  /** Opens /events; `onEvent(event)` for each. Returns a function that closes it. */
  async events(onEvent) {
    const abort = new AbortController();
    const answer = await fetch(`${base}/events`, { headers: { cookie: this.cookie }, signal: abort.signal });
    this.keep(answer);
    if (answer.status !== 200) throw new Error(`/events: ${answer.status}`);
    const reader = answer.body.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    (async () => {
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) return;
          buffer += decoder.decode(value, { stream: true });
          let end;
          while ((end = buffer.indexOf('\n\n')) >= 0) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            const data = block.split('\n').find((l) => l.startsWith('data:'));
            if (data) onEvent(JSON.parse(data.slice(5)));
          }
        }
      } catch { /* closed */ }
    })();
    return () => abort.abort();
  }
}

/** Each upload's end of processing as the stream reports it, whether it comes before or
 * after someone asks for it. */
function readyWaiter() {
  const waiting = new Map();
  const ended = new Map();
  return {
    onEvent(event) {
      const upload = event.upload;
      if (event.kind !== 'changed' || !upload?.file) return;
      const state = upload.file.processing;
      if (state !== 'ready' && state !== 'failed') return;
      const end = { at: performance.now(), state, error: upload.file.error };
      if (waiting.has(upload.id)) waiting.get(upload.id)(end);
      else ended.set(upload.id, end);
    },
    until(id) {
      return ended.has(id) ? Promise.resolve(ended.get(id)) : new Promise((ok) => waiting.set(id, ok));
    },
  };
}

const result = {};
const owner = new Client();
await owner.call('whoami', {});
const ready = readyWaiter();
let ownerEvents = 0;
const closeOwner = await owner.events((e) => { ownerEvents++; ready.onEvent(e); });

for (const [label, path, type] of [['image', imagePath, 'image/png'], ['video', videoPath, 'video/mp4']]) {
  const data = readFileSync(path);
  const name = path.split('/').pop();
  const { id, completedAt } = await owner.upload(name, type, data);
  const done = await Promise.race([ready.until(id), new Promise((ok) => setTimeout(() => ok(null), 300_000))]);
  if (!done) throw new Error(`${label}: not ready within 5 minutes`);
  if (done.state !== 'ready') throw new Error(`${label}: ${done.state} ${done.error}`);
  result[`${label}_mib`] = +(data.length / 2 ** 20).toFixed(1);
  result[`${label}_to_ready_ms`] = Math.round(done.at - completedAt);
  result.last_id = id;
}

// The live feed under load.
result.rss_before_clients_mib = +rssMiB().toFixed(1);
const closers = [];
for (let i = 0; i < CLIENTS; i++) {
  const guest = new Client();
  // A stream is only for a session the browser has: the cookie first, as a page gets it.
  await guest.call('whoami', {});
  closers.push(await guest.events(() => {}));
}
await new Promise((ok) => setTimeout(ok, 1000));
result.clients = CLIENTS;
result.rss_with_clients_mib = +rssMiB().toFixed(1);

// One owner changes a file's title EVENTS times (each change is an event); their own stream
// receives them while every other client's stream filters them out.
const before = ownerEvents;
const t0 = performance.now();
let next = 0;
await Promise.all(Array.from({ length: 8 }, async () => {
  while (next < EVENTS) {
    const n = next++;
    await owner.call('describe_file', { upload_id: result.last_id, title: `take ${n}`, description: '', visibility: 'private' });
  }
}));
while (ownerEvents - before < EVENTS && performance.now() - t0 < 60_000) {
  await new Promise((ok) => setTimeout(ok, 5));
}
const seconds = (performance.now() - t0) / 1000;
result.events = ownerEvents - before;
result.events_per_s = Math.round(result.events / seconds);
result.rss_after_events_mib = +rssMiB().toFixed(1);
for (const close of closers) close();
closeOwner();
const metrics = async () => Number(/hoist_live_clients (\d+)/.exec(await (await fetch(`${base}/metrics`)).text())[1]);
const deadline = performance.now() + 30_000;
while ((await metrics()) > 0 && performance.now() < deadline) await new Promise((ok) => setTimeout(ok, 100));
result.clients_left = await metrics();
result.rss_after_close_mib = +rssMiB().toFixed(1);
delete result.last_id;
console.log(JSON.stringify(result));
