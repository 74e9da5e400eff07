// Micro-benchmark: AOF objects fall into V8 dictionary mode, and aof.write gets ~4× slower.
//
//   node bench/micro-private-fields.mjs        (needs dist/: `npx tsc -p tsconfig.build.json`)
//
// V8 finishes "in-object slack tracking" for a class at its 7th construction: it shrinks the
// instances to the fields the class's live maps use. If by then every earlier instance has been
// collected, their maps (held only weakly by the transition tree) are gone, the class is shrunk
// to no in-object fields, and an instance of a class with 16 or more *private* fields ends up with
// dictionary ("slow") properties. That holds for every later instance, for the rest of the process.
// Public fields and `this.x = …` assignments are not affected (part 1).
//
// The AOF class has 18 private fields. A process that opens and closes AOFs (a segmented log,
// a service rotating files) and lets the closed ones be collected gets dictionary-mode AOFs from
// the 7th on, and every `this.#field` in write() becomes a generic IC call (part 2).
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const self = fileURLToPath(import.meta.url);
const FLAGS = ['--expose-gc', '--allow-natives-syntax'];
if (typeof globalThis.gc !== 'function' || !process.execArgv.includes('--allow-natives-syntax')) {
  const r = spawnSync(process.execPath, [...FLAGS, self, ...process.argv.slice(2)], { stdio: 'inherit' });
  process.exit(r.status ?? 1);
}
const hasFastProperties = new Function('o', 'return %HasFastProperties(o)');
const ROUNDS = 10;

// --- part 2, in a child process per lifecycle (the class's fate is sealed once per process) --------
if (process.argv[2] === 'aof') {
  const pin = process.argv[3] === 'pinned';
  const { Manager, Geometry, MiB, GiB } = await import('../dist/index.js');
  const N = 5_000_000;
  const buf = Buffer.alloc(100, 0x61);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mmap-aof-micro-'));
  const m = new Manager(dir);
  const pinned = [];
  const loop = (aof, n) => { for (let i = 0; i < n; i++) aof.write(buf); };
  // One round in its own async function, so nothing but `pinned` keeps the AOF alive afterwards.
  async function round(r) {
    const name = `f${r}`;
    const aof = m.open(name, Geometry.create().with(Math.ceil((N * 100 + 8) / 4096) * 4096, 4 * GiB, 64 * MiB));
    if (pin) pinned.push(aof);
    // Pre-touch every page so the loop measures the write path, not page faults.
    aof.append(aof.fileSize - 8, (ev) => { for (let i = 0; i < ev.tail.length; i += 4096) ev.tail[i] = 0; return 0; });
    const t0 = process.hrtime.bigint();
    loop(aof, N);
    const rate = N / (Number(process.hrtime.bigint() - t0) / 1e9);
    const fast = hasFastProperties(aof);
    await aof.close();
    fs.rmSync(path.join(dir, name));
    return `${(rate / 1e6).toFixed(0).padStart(3)}${fast ? ' ' : 'D'}`;
  }
  const out = [];
  try {
    for (let r = 0; r < ROUNDS; r++) {
      out.push(await round(r));
      gc();
    }
  } finally {
    await m.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  console.log(`   ${pin ? 'earlier AOFs kept alive' : 'earlier AOFs collected '}  ${out.join(' ')}`);
  process.exit(0);
}

// --- part 1: plain classes --------------------------------------------------------------------------
console.log(`node ${process.version}, V8 ${process.versions.v8}`);
console.log('\n1. new C(), drop it, gc(); ten times. f = fast properties, D = dictionary mode');
const variants = [
  ['14 private fields', 'class { ' + Array.from({ length: 14 }, (_, i) => `#f${i} = 0;`).join(' ') + ' }'],
  ['15 private fields', 'class { ' + Array.from({ length: 15 }, (_, i) => `#f${i} = 0;`).join(' ') + ' }'],
  ['16 private fields', 'class { ' + Array.from({ length: 16 }, (_, i) => `#f${i} = 0;`).join(' ') + ' }'],
  ['18 private fields (as AOF)', 'class { ' + Array.from({ length: 18 }, (_, i) => `#f${i} = 0;`).join(' ') + ' }'],
  ['18 public fields', 'class { ' + Array.from({ length: 18 }, (_, i) => `f${i} = 0;`).join(' ') + ' }'],
  ['18 this.x = … in constructor', 'class { constructor() { ' + Array.from({ length: 18 }, (_, i) => `this.f${i} = 0;`).join(' ') + ' } }'],
  ['18 private, one instance kept', 'class { ' + Array.from({ length: 18 }, (_, i) => `#f${i} = 0;`).join(' ') + ' }', true],
];
for (const [label, src, keepFirst] of variants) {
  const C = new Function(`return ${src}`)();
  let first;
  const marks = [];
  for (let i = 0; i < ROUNDS; i++) {
    let o = new C();
    if (keepFirst) first ??= o;
    marks.push(hasFastProperties(o) ? 'f' : 'D');
    o = null;
    gc();
  }
  console.log(`   ${label.padEnd(30)} ${marks.join('')}`);
}

console.log(`\n2. mmap-aof: open, pre-touch, write 5 M × 100 B (warm pages), close, gc(); ${ROUNDS} rounds.`);
console.log('   M writes/s per round (D = the AOF object was in dictionary mode)');
for (const lifecycle of ['collected', 'pinned']) {
  spawnSync(process.execPath, [...FLAGS, self, 'aof', lifecycle], { stdio: 'inherit' });
}
