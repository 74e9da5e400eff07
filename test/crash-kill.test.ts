/**
 * kill -9 torture: a child writer (test/fixtures/crash-writer.mjs) appends a deterministic stream
 * (test/fixtures/crash-stream.mjs) and checkpoints every EVERY records; the parent kills it with
 * SIGKILL at seeded random moments, then checks what recovery makes of the file:
 *
 * - reopening always succeeds, in a new Manager, for writing (so the dead writer's flock is gone);
 * - the content is byte for byte a prefix of what the writer would have written, and reaches at
 *   least past every checkpoint the writer reported before it died;
 * - the file as the kill left it ends with the tail magic right after the content, or with a
 *   checkpoint marker, or is torn and rolls back to the last checkpoint (counted as a rollback);
 *   after reopening it ends with the tail magic right after the content and zeros after;
 * - the next round continues the same file from where recovery left it.
 *
 * A second test kills the writer around `finish()`: the file is then either still writable with
 * its content intact (possibly plus the final marker, which recovery keeps as content) or finished
 * (read-only, state EOF) with the full content.
 *
 * AOF_TORTURE_KILLS sets the number of kills (default 50), AOF_TORTURE_SEED the seed (printed),
 * AOF_TORTURE_RATE the bytes per millisecond the writer may append (default 60000).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { FileState, Geometry, Manager, RecoveryKind, recoverWithMagic, type AOF } from '../src/index.js';
import { CHECKPOINT, GEOMETRY, Stream, TAIL, pseudoRandomBytes as fixtureBytes } from './fixtures/crash-stream.mjs';
import { ReportingChild, expectSameBytes, prng } from './torture.js';
import { pseudoRandomBytes, tmpDir } from './helpers.js';

const KILLS = Math.max(1, Number(process.env.AOF_TORTURE_KILLS ?? 50) | 0);
const SEED = (process.env.AOF_TORTURE_SEED !== undefined
  ? Number(process.env.AOF_TORTURE_SEED)
  : (Date.now() ^ (process.pid << 16))) >>> 0;
/** Bytes per millisecond the writer may append (keeps a round to ~1.5 MB on average). */
const RATE = Number(process.env.AOF_TORTURE_RATE ?? 60_000);
/** Start a new file once one holds this much (the writer stops 1 MiB short of sizeUpper). */
const ROTATE = 16 * 1024 * 1024;

const geometry = (): Geometry => Geometry.create().with(GEOMETRY.sizeNow, GEOMETRY.sizeUpper, GEOMETRY.growthStep);

/** Opens `name` for writing in a fresh Manager (proves no writer lock is left behind). */
function reopen(dir: string, name: string): { m: Manager; aof: AOF } {
  const m = new Manager(dir, { controlBlock: false });
  try {
    return { m, aof: m.open(name, geometry()) };
  } catch (e) {
    void m.close();
    throw e;
  }
}

describe('kill -9 of a writer', () => {
  it('the fixture stream uses the same generator as the helpers', () => {
    expect(fixtureBytes(4096, 12345).equals(pseudoRandomBytes(4096, 12345))).toBe(true);
    // The stream is deterministic: two instances agree, and it starts with a checkpoint marker.
    const a = new Stream(99, 3).prefix(200_000);
    const b = new Stream(99, 3).prefix(200_000);
    expect(a.equals(b)).toBe(true);
    expect(a.subarray(0, 8).equals(CHECKPOINT)).toBe(true);
  });

  it(`loses nothing before the last checkpoint across ${KILLS} kills, continuing the same file`, async () => {
    console.log(`crash-kill torture: seed ${SEED} (AOF_TORTURE_SEED=${SEED} reproduces), ${KILLS} kills`);
    const rand = prng(SEED);
    const dir = tmpDir('aof-crash-');
    const started = performance.now();
    let fileNo = 0;
    let name = `torture-${fileNo}.aof`;
    /** Verified content of the current file. */
    let expected = Buffer.alloc(0);
    const figures = {
      kills: 0, files: 1, bytesWritten: 0, bytesCompared: 0, cleanTail: 0, endedAtCheckpoint: 0,
      rollbacks: 0, bytesRolledBack: 0, checkpointsReported: 0, maxFileSize: 0,
    };

    for (let round = 0; round < KILLS; round++) {
      if (expected.length > ROTATE) {
        name = `torture-${++fileNo}.aof`;
        expected = Buffer.alloc(0);
        figures.files++;
      }
      const file = path.join(dir, name);
      const context = `seed ${SEED} round ${round} file ${name}`;
      const writer = new ReportingChild('crash-writer.mjs', [dir, name, String(SEED), String(round), 'write', String(RATE)]);
      const [, openSize, openKind] = await writer.waitFor('open ');
      // The writer sees exactly what the parent verified (and repaired) last round.
      expect(Number(openSize), context).toBe(expected.length);
      expect(Number(openKind), context).toBe(expected.length === 0 ? RecoveryKind.Empty : RecoveryKind.Tail);
      const [, readyAt, readySize] = await writer.waitFor('ready ');
      expect(Number(readyAt), context).toBe(expected.length);
      expect(Number(readySize), context).toBe(expected.length + 8);
      if (round === 0) {
        // While it lives, the writer holds the lock: a second writer is refused.
        const m = new Manager(dir);
        expect(() => m.open(name, geometry())).toThrow(expect.objectContaining({ code: 'ERR_AOF_LOCKED' }));
        await m.close();
      }
      await sleep(rand() * 50);
      writer.kill();
      await writer.killed();
      figures.kills++;

      // The highest checkpoint the writer reported before it died ("ready" is one too).
      let lastCheckpoint = expected.length;
      for (const line of writer.lines) {
        const [what, at] = line.split(' ');
        if (what === 'cp') {
          lastCheckpoint = Math.max(lastCheckpoint, Number(at));
          figures.checkpointsReported++;
        }
      }

      // The file exactly as the kill left it.
      const raw = fs.readFileSync(file);
      figures.maxFileSize = Math.max(figures.maxFileSize, raw.length);
      const rr = recoverWithMagic(raw.length, raw);
      expect(rr.kind === RecoveryKind.Tail || rr.kind === RecoveryKind.Checkpoint,
        `${context}: recovery of the raw file gave kind ${rr.kind} (${rr.error?.message})`).toBe(true);
      if (rr.kind === RecoveryKind.Tail) {
        figures.cleanTail++;
        expect(raw.subarray(rr.tail, rr.tail + 8).equals(TAIL), context).toBe(true);
        expect(rr.end, context).toBe(rr.tail + 8);
      } else if (rr.tail === rr.end) {
        // Killed between the checkpoint marker and the tail magic after it: a clean checkpoint.
        figures.endedAtCheckpoint++;
        expect(raw.subarray(rr.checkpoint, rr.tail).equals(CHECKPOINT), context).toBe(true);
      } else {
        // Killed inside a write: torn tail, rolled back to the last checkpoint marker.
        figures.rollbacks++;
        figures.bytesRolledBack += rr.end - rr.tail;
        expect(rr.tail, context).toBe(rr.checkpoint + 8);
        expect(raw.subarray(rr.checkpoint, rr.tail).equals(CHECKPOINT), context).toBe(true);
      }

      // Reopen for writing in a new Manager: the dead writer's lock is gone, recovery succeeds.
      const { m, aof } = reopen(dir, name);
      let size: number;
      try {
        expect(aof.recovery.kind, context).toBe(rr.kind);
        expect(aof.state, context).toBe(FileState.Opened);
        expect(aof.readOnly, context).toBe(false);
        size = aof.size;
        expect(size, context).toBe(rr.tail);
        expect(size, `${context}: content must reach past the last reported checkpoint`)
          .toBeGreaterThanOrEqual(lastCheckpoint + 8);
        const view = aof.view();
        expectSameBytes(view.subarray(0, expected.length), expected, `${context}: earlier rounds`);
        const fresh = new Stream(SEED, round).prefix(size - expected.length);
        expectSameBytes(view.subarray(expected.length), fresh, `${context}: this round`);
        figures.bytesWritten += fresh.length;
        figures.bytesCompared += size;
        expected = Buffer.concat([expected, fresh]);
      } finally {
        await m.close();
      }

      // After reopening, the tail magic stands right after the content and only zeros follow.
      const repaired = fs.readFileSync(file);
      expect(repaired.subarray(size, size + 8).equals(TAIL), context).toBe(true);
      const after = recoverWithMagic(repaired.length, repaired);
      expect({ kind: after.kind, tail: after.tail, end: after.end }, context)
        .toEqual({ kind: RecoveryKind.Tail, tail: size, end: size + 8 });
    }

    // One last writer continues the file and closes cleanly: the file is still healthy.
    const { m, aof } = reopen(dir, name);
    aof.write('the end\n');
    await m.close();
    const last = reopen(dir, name);
    expect(last.aof.size).toBe(expected.length + 8);
    expectSameBytes(last.aof.view(0, expected.length), expected, 'after the last round');
    await last.m.close();

    console.log(`crash-kill torture: ${figures.kills} kills over ${figures.files} file(s) in ` +
      `${((performance.now() - started) / 1000).toFixed(1)} s; ${figures.bytesWritten} bytes written and verified ` +
      `(${figures.bytesCompared} compared in all); raw state after the kill: ${figures.cleanTail} clean tail, ` +
      `${figures.endedAtCheckpoint} ended at a checkpoint, ${figures.rollbacks} torn and rolled back ` +
      `(${figures.bytesRolledBack} bytes dropped); ${figures.checkpointsReported} checkpoints reported; ` +
      `largest file ${figures.maxFileSize} bytes`);
  }, 30_000 + KILLS * 2_000);

  it('a kill around finish() leaves the file writable and intact, or finished with the full content', async () => {
    const kills = Math.max(4, Math.ceil(KILLS / 2));
    const seed = (SEED ^ 0xf1f1) >>> 0;
    console.log(`crash-kill finish: seed ${SEED}, ${kills} kills`);
    const rand = prng(seed);
    const dir = tmpDir('aof-crash-finish-');

    // Calibrate: how long after "finishing" does finish() complete when nobody kills the writer?
    const cal = new ReportingChild('crash-writer.mjs', [dir, 'calibrate.aof', String(seed), '0', 'finish-calibrate']);
    const [, calSize] = await cal.waitFor('finishing ');
    const t0 = performance.now();
    await cal.waitFor('finished ');
    const window = performance.now() - t0;
    const calExit = await cal.exited;
    expect(calExit, calExit.stderr).toMatchObject({ code: 0, signal: null });
    {
      const { m, aof } = reopen(dir, 'calibrate.aof');
      expect(aof.state).toBe(FileState.EOF);
      expect(aof.size).toBe(Number(calSize));
      expectSameBytes(aof.view(), new Stream(seed, 0).prefix(Number(calSize)), 'calibration file');
      await m.close();
    }

    const outcomes = { writable: 0, writableWithMarker: 0, finishedNotReadOnlyYet: 0, finished: 0 };
    for (let k = 0; k < kills; k++) {
      const round = 1 + k;
      const name = `finish-${k}.aof`;
      const file = path.join(dir, name);
      const context = `seed ${SEED} finish round ${k}`;
      const writer = new ReportingChild('crash-writer.mjs', [dir, name, String(seed), String(round), 'finish']);
      const [, sizeWord] = await writer.waitFor('finishing ');
      const size = Number(sizeWord);
      await sleep(rand() * 1.5 * window);
      writer.kill();
      await writer.killed();

      const expected = new Stream(seed, round).prefix(size);
      const raw = fs.readFileSync(file);
      const mode = fs.statSync(file).mode & 0o777;
      const { m, aof } = reopen(dir, name);
      try {
        if (aof.state === FileState.EOF) {
          // Finished: truncated to content + marker, read-only, the full content.
          expect(aof.readOnly, context).toBe(true);
          expect(aof.size, context).toBe(size);
          expect(raw.length, context).toBe(size + 8);
          expect(raw.subarray(size).equals(CHECKPOINT), context).toBe(true);
          expectSameBytes(aof.view(), expected, context);
          if ((mode & 0o222) !== 0) outcomes.finishedNotReadOnlyYet++;
          else outcomes.finished++;
          expect(() => aof.write('x')).toThrow(expect.objectContaining({ code: 'ERR_AOF_READ_ONLY' }));
        } else {
          // Still writable: the content is intact; if the kill came after finish() stored the final
          // marker but before the truncate, recovery keeps that marker as content (a checkpoint).
          expect(aof.state, context).toBe(FileState.Opened);
          expect(aof.readOnly, context).toBe(false);
          expectSameBytes(aof.view(0, size), expected, context);
          if (aof.size === size) {
            outcomes.writable++;
          } else {
            expect(aof.size, context).toBe(size + 8);
            expect(aof.view(size).equals(CHECKPOINT), context).toBe(true);
            outcomes.writableWithMarker++;
          }
          // finish() can be completed now, and the file reopens finished.
          const finalSize = aof.size;
          aof.write('after the crash\n');
          await aof.finish();
          await m.close();
          const again = reopen(dir, name);
          expect(again.aof.state, context).toBe(FileState.EOF);
          expect(again.aof.size, context).toBe(finalSize + 16);
          expectSameBytes(again.aof.view(0, size), expected, context);
          await again.m.close();
        }
      } finally {
        await m.close();
      }
    }
    console.log(`crash-kill finish: ${kills} kills within ${(1.5 * window).toFixed(1)} ms of finish() ` +
      `(it takes ~${window.toFixed(1)} ms): ${outcomes.writable} writable and intact, ` +
      `${outcomes.writableWithMarker} writable with the final marker kept, ` +
      `${outcomes.finishedNotReadOnlyYet} finished but not yet chmod'ed, ${outcomes.finished} finished`);
  }, 30_000 + KILLS * 1_000);
});
