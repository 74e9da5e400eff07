/**
 * The state log: grailbio's stateio scenarios (empty, updates without a snapshot, snapshots every
 * 10 entries with a reopen every 5), run in memory and on disk, plus what goes beyond stateio:
 * compaction drops the history before the last snapshot, corrupt updates are reported by code and
 * can be skipped.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { StateLog, type StateLogOptions } from '../src/index.js';
import { codeOf, tmpDir } from './helpers.js';

const text = (b: Buffer | null) => (b === null ? null : b.toString());
const all = (it: Iterable<Buffer>) => [...it].map((b) => b.toString());

/** Where each disk-backed state log lives, to reopen it. */
const dirOf = new WeakMap<StateLog, string>();

interface Backend {
  name: 'memory' | 'disk';
  open(options?: StateLogOptions): Promise<StateLog>;
  /** Closes and opens again (memory: the same instance, there is nothing to reopen). */
  reopen(st: StateLog, options?: StateLogOptions): Promise<StateLog>;
}

const backends: Backend[] = [
  {
    name: 'memory',
    open: async (options) => StateLog.memory(options),
    reopen: async (st) => st,
  },
  {
    name: 'disk',
    open: async (options) => {
      const dir = tmpDir('aof-state-');
      const st = await StateLog.open(dir, options);
      dirOf.set(st, dir);
      return st;
    },
    reopen: async (st, options) => {
      const dir = dirOf.get(st)!;
      await st.close();
      const again = await StateLog.open(dir, options);
      dirOf.set(again, dir);
      return again;
    },
  },
];

describe.each(backends)('state log ($name)', (backend) => {
  const open = (options?: StateLogOptions) => backend.open(options);

  it('an empty log restores to no state, epoch 0, no updates', async () => {
    const st = await open();
    const r = st.restore();
    expect(r).toMatchObject({ state: null, epoch: 0, skipped: [] });
    expect(all(r.updates)).toEqual([]);
    await st.close();
  });

  it('updates without a snapshot restore in order with no state', async () => {
    let st = await open();
    for (let i = 0; i < 7; i++) st.update(Buffer.from(`u${i}`));
    st = await backend.reopen(st);
    const r = st.restore();
    expect(r.state).toBeNull();
    expect(r.epoch).toBe(0);
    expect(all(r.updates)).toEqual(['u0', 'u1', 'u2', 'u3', 'u4', 'u5', 'u6']);
    await st.close();
  });

  it('100 entries with a snapshot every 10 and a reopen every 5: each restore is the last snapshot and the updates after it', async () => {
    let st = await open();
    let state: string | null = null;
    let updates: string[] = [];
    let epoch = 0;
    for (let i = 1; i <= 100; i++) {
      if (i % 10 === 0) {
        state = `snapshot ${i}`;
        updates = [];
        epoch = st.snapshot(Buffer.from(state));
        expect(st.epoch).toBe(epoch);
      } else {
        const u = `update ${i}`;
        st.update(Buffer.from(u));
        updates.push(u);
      }
      if (i % 5 === 0) st = await backend.reopen(st);
      const r = st.restore();
      expect(text(r.state), `entry ${i}`).toBe(state);
      expect(r.epoch, `entry ${i}`).toBe(epoch);
      expect(all(r.updates), `entry ${i}`).toEqual(updates);
    }
    expect(epoch).toBeGreaterThan(0);
    await st.close();
  });

  it('epochs only grow: the id of each snapshot record', async () => {
    const st = await open();
    const a = st.snapshot(Buffer.from('a'));
    st.update(Buffer.from('x'));
    const b = st.snapshot(Buffer.from('b'));
    expect(a).toBe(1);
    expect(b).toBe(3);
    expect(st.restore().epoch).toBe(3);
    await st.close();
  });

  it('compact() drops the segments before the last snapshot; restore is unchanged and reads only the current epoch', async () => {
    const st = await open({ segmentSize: 64 * 1024 });
    const big = Buffer.alloc(2000, 1);
    for (let i = 0; i < 200; i++) st.update(big);
    st.snapshot(Buffer.from('the state'));
    st.update(Buffer.from('after'));
    const before = st.log.firstId;
    await st.compact();
    expect(st.log.firstId).toBeGreaterThan(before);
    expect(st.log.firstId).toBeLessThanOrEqual(st.epoch);
    const r = st.restore();
    expect(text(r.state)).toBe('the state');
    expect(all(r.updates)).toEqual(['after']);
    await st.close();
  });

  it('autoCompact drops the history after each snapshot by itself', async () => {
    const st = await open({ segmentSize: 64 * 1024, autoCompact: true });
    const big = Buffer.alloc(2000, 2);
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 100; i++) st.update(big);
      st.snapshot(Buffer.from(`state ${round}`));
    }
    await st.sync(); // waits for nothing extra; close() below waits for compaction in flight
    await st.close();
    if (backend.name === 'disk') {
      const dir = dirOf.get(st)!;
      const again = await StateLog.open(dir);
      expect(text(again.restore().state)).toBe('state 2');
      const segments = fs.readdirSync(dir).filter((n) => n.endsWith('.seg'));
      expect(segments.length, 'segments before the last snapshot are gone').toBeLessThanOrEqual(2);
      await again.close();
    }
  });

  it('refuses what is not bytes, and use after close, with codes', async () => {
    const st = await open();
    expect(codeOf(() => st.update('text' as unknown as Uint8Array))).toBe('ERR_AOF_INVALID_ARG');
    expect(codeOf(() => st.restore({ skipCorrupt: 'yes' as unknown as boolean }))).toBe('ERR_AOF_INVALID_ARG');
    await st.close();
    expect(codeOf(() => st.update(Buffer.from('x')))).toBe('ERR_AOF_CLOSED');
    expect(codeOf(() => st.restore())).toBe('ERR_AOF_CLOSED');
  });
});

describe('state log corruption (disk)', () => {
  it('a corrupt update in a sealed segment is ERR_AOF_CORRUPT_DATA, or skipped and reported with skipCorrupt', async () => {
    const dir = tmpDir('aof-state-');
    const st = await StateLog.open(dir, { segmentSize: 64 * 1024 });
    st.snapshot(Buffer.from('base'));
    const pad = 'p'.repeat(1000);
    const expected: string[] = [];
    for (let i = 0; i < 200; i++) {
      const u = `update-${String(i).padStart(3, '0')} ${pad}`;
      st.update(Buffer.from(u));
      expected.push(u);
    }
    await st.close();
    // Flip a byte of update-005's payload in the first (sealed) segment.
    const first = fs.readdirSync(dir).filter((n) => n.endsWith('.seg')).sort()[0]!;
    const file = path.join(dir, first);
    const bytes = fs.readFileSync(file);
    const at = bytes.indexOf(Buffer.from('update-005'));
    expect(at).toBeGreaterThan(0);
    fs.chmodSync(file, 0o644);
    bytes[at + 3] ^= 0x20;
    fs.writeFileSync(file, bytes);
    fs.chmodSync(file, 0o444);

    const again = await StateLog.open(dir);
    expect(text(again.restore().state)).toBe('base');
    expect(codeOf(() => [...again.restore().updates])).toBe('ERR_AOF_CORRUPT_DATA');
    const r = again.restore({ skipCorrupt: true });
    expect(all(r.updates)).toEqual(expected.filter((_, i) => i !== 5));
    expect(r.skipped.map((e) => e.code)).toEqual(['ERR_AOF_CORRUPT_DATA']);
    expect(r.skipped[0]!.message).toContain(first);
    await again.close();
  });
});
