// Helpers shared by the benchmarks (not a benchmark itself: run.mjs only runs *.bench.mjs).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
import { PerformanceObserver } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

/** Number of processing units available, as `nproc` prints it. */
export function nproc() {
  try {
    return Number(execFileSync('nproc', { encoding: 'utf8' }).trim());
  } catch {
    return os.availableParallelism?.() ?? os.cpus().length;
  }
}

/** The "model name" line of /proc/cpuinfo (falls back to os.cpus()). */
export function cpuModel() {
  try {
    const m = /^model name\s*:\s*(.*)$/m.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'));
    if (m) return m[1].trim();
  } catch {
    // not Linux
  }
  return os.cpus()[0]?.model ?? 'unknown';
}

/** The mount a path lives on, from /proc/mounts: { mount, type, source }. */
export function filesystemOf(p) {
  let real = p;
  try {
    real = fs.realpathSync(p);
  } catch {
    // keep p
  }
  let best = { mount: '?', type: 'unknown', source: '?' };
  try {
    const unescape = (s) => s.replace(/\\([0-7]{3})/g, (_, o) => String.fromCharCode(parseInt(o, 8)));
    for (const line of fs.readFileSync('/proc/mounts', 'utf8').split('\n')) {
      const [source, mountRaw, type] = line.split(' ');
      if (!mountRaw) continue;
      const mount = unescape(mountRaw);
      const inside = mount === '/' || real === mount || real.startsWith(mount + '/');
      // Later lines of the same mount point shadow earlier ones, hence >=.
      if (inside && mount.length >= (best.mount === '?' ? 0 : best.mount.length)) {
        best = { mount, type, source };
      }
    }
  } catch {
    // not Linux
  }
  return best;
}

export function describeFilesystem(dir) {
  const f = filesystemOf(dir);
  return `${dir} on ${f.type} (${f.source} mounted at ${f.mount})`;
}

/** Facts about virtualisation that change page-fault costs: hypervisor flag, virtio-balloon free page reporting. */
export function virtualization() {
  const facts = [];
  try {
    if (/^flags\s*:.*\bhypervisor\b/m.test(fs.readFileSync('/proc/cpuinfo', 'utf8'))) facts.push('virtual machine (cpuinfo "hypervisor" flag)');
  } catch {
    // not Linux
  }
  try {
    for (const dev of fs.readdirSync('/sys/bus/virtio/drivers/virtio_balloon')) {
      if (!dev.startsWith('virtio')) continue;
      const features = fs.readFileSync(`/sys/bus/virtio/drivers/virtio_balloon/${dev}/features`, 'utf8');
      // Feature bit 5 is VIRTIO_BALLOON_F_REPORTING: freed guest pages go back to the host, so touching
      // them again costs a host-side fault on top of the guest's.
      facts.push(`virtio-balloon${features[5] === '1' ? ' with free page reporting' : ''}`);
    }
  } catch {
    // no balloon
  }
  return facts.length ? facts.join(', ') : 'none detected';
}

/** The benchmark environment, one "key: value" per line. */
export function environmentLines(command) {
  const gib = (n) => (n / 2 ** 30).toFixed(1) + ' GiB';
  return [
    `date:     ${new Date().toISOString()}`,
    `command:  ${command}`,
    `node:     ${process.version} (V8 ${process.versions.v8})`,
    `os:       ${os.type()} ${os.release()} ${os.arch()}`,
    `cpu:      ${cpuModel()}`,
    `nproc:    ${nproc()}`,
    `memory:   ${gib(os.totalmem())} total, ${gib(os.freemem())} free`,
    `virt:     ${virtualization()}`,
    `tmpdir:   ${describeFilesystem(os.tmpdir())}`,
  ];
}

/** Reads a positive integer from the environment. */
export function envInt(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw.replace(/_/g, ''));
  if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`${name} must be a positive integer, got ${raw}`);
  return n;
}

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** Formats rows (arrays of strings) as an aligned plain-text table; numeric-looking cells align right. */
export function table(header, rows) {
  const all = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...all.map((r) => String(r[i]).length)));
  const numeric = (s) => /^[-+]?[\d.,]+(\s*[%×x]|[kMG]?)?$|^[\d.]+\s*[kMG]?\.\.[\d.]+\s*[kMG]?$/.test(s);
  const fmt = (r) => r.map((c, i) => {
    const s = String(c);
    return (i > 0 && numeric(s)) ? s.padStart(widths[i]) : s.padEnd(widths[i]);
  }).join('  ').trimEnd();
  return [fmt(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(fmt)].join('\n');
}

/** 12345678 → "12.35 M"; keeps 4 significant-ish digits. */
export function si(n) {
  if (n >= 1e9) return (n / 1e9).toFixed(2) + ' G';
  if (n >= 1e6) return (n / 1e6).toFixed(2) + ' M';
  if (n >= 1e3) return (n / 1e3).toFixed(1) + ' k';
  return n.toFixed(0);
}

export function gcIfExposed() {
  if (typeof globalThis.gc === 'function') globalThis.gc();
}

/** V8 flags the benchmarks need: gc() between runs and %HasFastProperties. */
export const V8_FLAGS = ['--expose-gc', '--allow-natives-syntax'];

/**
 * Re-runs the script at `scriptUrl` with {@link V8_FLAGS} when they are missing, and exits with
 * its status; returns the script's path when they are present.
 */
export function requireV8Flags(scriptUrl) {
  const self = fileURLToPath(scriptUrl);
  if (typeof globalThis.gc !== 'function' || !process.execArgv.includes('--allow-natives-syntax')) {
    const r = spawnSync(process.execPath, [...V8_FLAGS, ...process.execArgv, self, ...process.argv.slice(2)], { stdio: 'inherit' });
    process.exit(r.status ?? 1);
  }
  return self;
}

let fastPropertiesCheck;
/** Whether V8 gives `o` fast (not dictionary-mode) properties; needs --allow-natives-syntax. */
export function hasFastProperties(o) {
  fastPropertiesCheck ??= new Function('o', 'return %HasFastProperties(o)');
  return fastPropertiesCheck(o);
}

/** A new temporary directory under `base` for a benchmark's files, removed at exit or on SIGINT/SIGTERM. */
export function benchDir(base, prefix) {
  const dir = fs.mkdtempSync(path.join(base, prefix));
  const cleanup = () => fs.rmSync(dir, { recursive: true, force: true });
  process.on('exit', cleanup);
  for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => { cleanup(); process.exit(130); });
  return dir;
}

/**
 * Counts V8 garbage collections while `on` is true: `count`, `ms` (total pause) and `max` (the
 * longest). The observer's entries arrive asynchronously: let a timer pass before reading.
 */
export function gcCounter() {
  const c = { count: 0, ms: 0, max: 0, on: false };
  new PerformanceObserver((list) => {
    if (!c.on) return;
    for (const e of list.getEntries()) {
      c.count++;
      c.ms += e.duration;
      if (e.duration > c.max) c.max = e.duration;
    }
  }).observe({ entryTypes: ['gc'] });
  return c;
}

/** Write-faults every page of a pre-sized AOF past its content (untimed), writing nothing. */
export function prefault(aof) {
  aof.append(aof.fileSize - aof.size - 8, (ev) => {
    const t = ev.tail;
    for (let i = 0; i < t.length; i += 4096) t[i] = 0;
    return 0;
  });
  if (aof.size !== 0) throw new Error('pre-touch wrote bytes');
}

/**
 * Touches and frees `bytes` of anonymous memory (untimed). On a VM with balloon free page
 * reporting, a first touch of memory the host has reclaimed costs several times more than memory
 * the guest freed a moment ago: a run that starts with this starts from the same state as the
 * others (see write.bench.mjs).
 */
export function primeMemory(bytes) {
  Buffer.allocUnsafeSlow(bytes).fill(0);
}

/** "1.01, 0.88, 1.01 (1, 5, 15 min)", from os.loadavg(). */
export function loadAverage() {
  return `${os.loadavg().map((x) => x.toFixed(2)).join(', ')} (1, 5, 15 min)`;
}

/** A seeded PRNG (mulberry32, the tests' own): uniform floats in [0, 1), the same sequence for the same seed. */
export { prng as seededRandom } from '../test/fixtures/prng.mjs';
