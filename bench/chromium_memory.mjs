// The resident memory of the machine's Chromium processes, read from /proc: what
// browser_upload.mjs and memory_by_process.mjs both sample while a page uploads.
import { readdirSync, readFileSync } from 'node:fs';

/** Resident bytes by kind of Chromium process (browser, renderer, gpu-process, utility:…). */
export function rssByKind() {
  const kinds = {};
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      if (!readFileSync(`/proc/${pid}/comm`, 'utf8').trim().startsWith('chrom')) continue;
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      const type = /--type=([\w-]+)/.exec(cmd)?.[1] ?? 'browser';
      const sub = /--utility-sub-type=([\w.]+)/.exec(cmd)?.[1];
      const kind = sub ? `${type}:${sub.split('.').pop()}` : type;
      const rss = readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmRSS:\s+(\d+) kB/m);
      if (rss) kinds[kind] = (kinds[kind] ?? 0) + Number(rss[1]) * 1024;
    } catch {
      // The process ended while we looked.
    }
  }
  return kinds;
}

/** Resident bytes of every Chromium process together. */
export const rssTotal = () => sum(rssByKind());

export const sum = (byKind) => Object.values(byKind).reduce((a, b) => a + b, 0);
