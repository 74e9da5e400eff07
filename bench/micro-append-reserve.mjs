// Micro-benchmark: what aof.append(reserve, fn) costs next to aof.write, by reserve size.
//
//   node bench/micro-append-reserve.mjs        (needs dist/: `npx tsc -p tsconfig.build.json`)
//
// Each call writes the same 100-byte record into a warm (pre-sized, pre-touched) file; only the
// reserve changes. After the callback, append() zero-fills the unused part of the reserve: the
// callback may have written anywhere in it, and recovery trusts the last non-zero byte, so the
// cost grows with `reserve - used` — choose a reserve close to what you need. The event object is
// reused; `ev.tail` is a Buffer view made on first access, `ev.buffer` + `ev.begin` needs none.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Manager, Geometry, MiB, GiB } from '../dist/index.js';

const N = 2_000_000;
const RESERVES = [100, 256, 1024, 4096, 65536];
const buf = Buffer.alloc(100, 0x61);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mmap-aof-micro-'));
const m = new Manager(dir);
const keep = []; // keep every AOF referenced (see micro-private-fields.mjs)
const pageUp = (n) => Math.ceil(n / 4096) * 4096;

function open(name) {
  const aof = m.open(name, Geometry.create().with(pageUp(N * 100 + 2 * 65536), 4 * GiB, 64 * MiB));
  keep.push(aof);
  aof.append(aof.fileSize - 8, (ev) => { for (let i = 0; i < ev.tail.length; i += 4096) ev.tail[i] = 0; return 0; });
  return aof;
}

const fill = (ev) => { ev.tail.set(buf, 0); return 100; };
const fillBuffer = (ev) => { ev.buffer.set(buf, ev.begin); return 100; };
function appendLoop(aof, reserve, n, fn = fill) { for (let i = 0; i < n; i++) aof.append(reserve, fn); }
function writeLoop(aof, n) { for (let i = 0; i < n; i++) aof.write(buf); }

function time(fn) {
  const t0 = process.hrtime.bigint();
  fn();
  return N / (Number(process.hrtime.bigint() - t0) / 1e9);
}

try {
  // Warm-up both loops.
  { const a = open('warmup'); writeLoop(a, 100_000); appendLoop(a, 100, 100_000); await a.close(); }
  console.log(`node ${process.version}; ${N.toLocaleString('en')} records of 100 B per line, warm pages\n`);
  const w = open('write');
  console.log(`  write(buf)                          ${(time(() => writeLoop(w, N)) / 1e6).toFixed(1).padStart(6)} M records/s`);
  await w.close();
  const b = open('append-buffer');
  console.log(`  append(  100, fn) via ev.buffer      ${(time(() => appendLoop(b, 100, N, fillBuffer)) / 1e6).toFixed(1).padStart(6)} M records/s`);
  await b.close();
  for (const reserve of RESERVES) {
    const a = open(`append-${reserve}`);
    const rate = time(() => appendLoop(a, reserve, N));
    console.log(`  append(${String(reserve).padStart(5)}, fn) via ev.tail        ${(rate / 1e6).toFixed(1).padStart(6)} M records/s`);
    await a.close();
  }
} finally {
  await m.close();
  fs.rmSync(dir, { recursive: true, force: true });
}
