#!/usr/bin/env bash
# How fast CRC32C runs in WebAssembly under V8 (Node's, the engine Chromium uses), for the two
# table-driven implementations Hoist could use in the browser, where no CRC instruction helps:
# the `crc32c` crate's slice-by-8 fallback and the `crc` crate's slice-by-16 table. Hashes 1 GiB
# (a 1 MiB buffer 1,024 times), 5 rounds each, interleaved; prints the median seconds per GiB.
#   bench/crc32c_wasm.sh
set -euo pipefail
source "$(dirname "$0")/../scripts/lib/common.sh"
cd "$ROOT"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/hoist-crc.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/src"
cat >"$WORK/Cargo.toml" <<'TOML'
[package]
name = "crc-wasm-bench"
version = "0.0.0"
edition = "2021"
publish = false
[lib]
crate-type = ["cdylib"]
[dependencies]
crc32c = { version = "0.6", default-features = false }
crc = "3.4"
[profile.release]
opt-level = 3
[workspace]
TOML
cat >"$WORK/src/lib.rs" <<'RS'
static mut BUF: [u8; 1 << 20] = [0; 1 << 20];
const SLICE16: crc::Crc<u32, crc::Table<16>> = crc::Crc::<u32, crc::Table<16>>::new(&crc::CRC_32_ISCSI);
fn buf() -> &'static [u8] { unsafe { &*core::ptr::addr_of!(BUF) } }
#[no_mangle]
pub extern "C" fn fill(seed: u32) { let mut x = seed; for b in unsafe { (*core::ptr::addr_of_mut!(BUF)).iter_mut() } { x ^= x << 13; x ^= x >> 17; x ^= x << 5; *b = x as u8; } }
#[no_mangle]
pub extern "C" fn slice8(mib: u32) -> u32 { (0..mib).fold(0, |c, _| crc32c::crc32c_append(c, buf())) }
#[no_mangle]
pub extern "C" fn slice16(mib: u32) -> u32 { let mut d = SLICE16.digest(); for _ in 0..mib { d.update(buf()); } d.finalize() }
RS
step "Building both to WebAssembly (release)"
(cd "$WORK" && cargo build --quiet --release --target wasm32-unknown-unknown) || die "cargo build failed"
cat >"$WORK/run.mjs" <<'JS'
import { readFileSync } from 'node:fs';
const { instance } = await WebAssembly.instantiate(readFileSync(process.argv[2]));
const { fill, slice8, slice16 } = instance.exports;
fill(12345);
if (slice8(3) !== slice16(3)) throw new Error('the two implementations disagree');
const seconds = { slice8: [], slice16: [] };
for (let round = 0; round < 5; round++) {
  for (const [name, f] of [['slice8', slice8], ['slice16', slice16]]) {
    const started = performance.now();
    f(1024);
    seconds[name].push((performance.now() - started) / 1000);
  }
}
const median = (xs) => [...xs].sort((a, b) => a - b)[2];
console.log(`commit ${process.argv[3]}, Node ${process.version}: CRC32C of 1 GiB in WebAssembly, median of 5`);
console.log(`  crc32c crate, slice-by-8:  ${median(seconds.slice8).toFixed(3)} s per GiB (${seconds.slice8.map((s) => s.toFixed(3)).join(', ')})`);
console.log(`  crc crate, slice-by-16:    ${median(seconds.slice16).toFixed(3)} s per GiB (${seconds.slice16.map((s) => s.toFixed(3)).join(', ')})`);
console.log(`  slice-by-16 is ${(median(seconds.slice8) / median(seconds.slice16)).toFixed(2)}x as fast`);
JS
node "$WORK/run.mjs" "$WORK/target/wasm32-unknown-unknown/release/crc_wasm_bench.wasm" "$(git rev-parse --short HEAD)"
