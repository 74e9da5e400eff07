/**
 * kill -9 torture with the control block and no checkpoints: a child writer
 * (test/fixtures/control-writer.mjs) appends a deterministic stream and reports every write that
 * returned; the parent kills it with SIGKILL at seeded random moments. Without the control block
 * a torn tail with no checkpoint could not be recovered at all; with it:
 *
 * - reopening always succeeds, in a new Manager, for writing (the dead writer's lock is gone);
 * - every write acknowledged before the kill is there, byte for byte, and nothing else is: the
 *   content is exactly a prefix of the stream, at least as long as the last acknowledged size;
 * - a torn tail is rolled back to the committed size (counted), never to 0;
 * - the next round's writer continues the file from there.
 *
 * Meanwhile a reader child (test/fixtures/control-reader.mjs) follows the file from offset 0
 * across all the writers, killed or not; once the file holds 16 MiB (and at the end) it is
 * finished and the reader reports the hash of every byte it saw: equal to the final content, so
 * it never saw a byte a recovery later rolled back, missed nothing, and followed each new writer.
 * The next rounds go to a new file with a new reader.
 *
 * AOF_TORTURE_KILLS sets the number of kills (default 50), AOF_TORTURE_SEED the seed (printed).
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { FileState, Geometry, Manager, RecoveryKind, recoverWithMagic } from '../src/index.js';
import { GEOMETRY, Stream } from './fixtures/crash-stream.mjs';
import { DIST, fixture, tmpDir } from './helpers.js';
import { ReportingChild, expectSameBytes, prng } from './torture.js';

const KILLS = Math.max(1, Number(process.env.AOF_TORTURE_KILLS ?? 50) | 0);
const SEED = (process.env.AOF_TORTURE_SEED !== undefined
  ? Number(process.env.AOF_TORTURE_SEED)
  : (Date.now() ^ (process.pid << 16))) >>> 0;
/** Bytes per millisecond: slower than crash-kill.test.ts, as every write is reported. */
const RATE = 20_000;
/** Finish the file and start a new one once it holds this much (sizeUpper is 64 MiB). */
const ROTATE = 16 * 1024 * 1024;

const geometry = (): Geometry => Geometry.create().with(GEOMETRY.sizeNow, GEOMETRY.sizeUpper, GEOMETRY.growthStep);

/** The reader child: resolves with its report once the file is finished. */
interface ReaderChild {
  following: Promise<void>;
  report: Promise<{ length: number; sha256: string; events: number }>;
  /** Kills it if it is still running (a failed round must not leave a reader following forever). */
  stop(): void;
}

function startReader(file: string): ReaderChild {
  const child = spawn(process.execPath, [fixture('control-reader.mjs'), DIST, file, 'futex'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  let onFollowing!: () => void;
  const following = new Promise<void>((resolve) => (onFollowing = resolve));
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    out += d;
    if (out.includes('following\n')) onFollowing();
  });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const report = new Promise<{ length: number; sha256: string; events: number }>((resolve, reject) => {
    child.on('close', (code, signal) => {
      const last = out.trim().split('\n').pop() ?? '';
      if (code !== 0 || !last.startsWith('{')) {
        reject(new Error(`reader exited (code ${code}, signal ${signal}):\n${err}\n${out}`));
        return;
      }
      resolve(JSON.parse(last));
    });
  });
  report.catch(() => onFollowing());
  return { following, report, stop: () => void (child.exitCode === null && child.kill('SIGKILL')) };
}

describe('kill -9 of a writer with a control block', () => {
  it(`loses no acknowledged write across ${KILLS} kills without checkpoints, and a reader follows every writer`, async () => {
    console.log(`crash-kill-control torture: seed ${SEED} (AOF_TORTURE_SEED=${SEED} reproduces), ${KILLS} kills`);
    const rand = prng(SEED);
    const dir = tmpDir('aof-crash-control-');
    let fileNo = 0;
    let name = `torture-${fileNo}.aof`;
    let file = path.join(dir, name);
    let expected = Buffer.alloc(0);
    let reader: ReaderChild | undefined;
    const figures = {
      kills: 0, files: 1, acknowledged: 0, torn: 0, cleanTail: 0, rolledBackBytes: 0, keptPastAck: 0, lost: 0,
      bytes: 0, readerEvents: 0,
    };

    /** One last writer continues and finishes the file: its reader reaches EOF with every byte. */
    const finishFile = async (): Promise<void> => {
      const m = new Manager(dir);
      const aof = m.open(name, geometry());
      expect(aof.size).toBe(expected.length);
      aof.write('the end\n');
      expected = Buffer.concat([expected, Buffer.from('the end\n')]);
      await aof.finish();
      await m.close();
      const seen = await reader!.report;
      reader = undefined;
      expect(seen.length, name).toBe(expected.length);
      expect(seen.sha256, `${name}: the reader saw exactly the final content, in order`)
        .toBe(createHash('sha256').update(expected).digest('hex'));
      expect(fs.existsSync(`${file}-shm`), 'a finished file keeps no control block').toBe(false);
      figures.bytes += expected.length;
      figures.readerEvents += seen.events;
    };

    try {
      for (let round = 0; round < KILLS; round++) {
        if (expected.length > ROTATE) {
          await finishFile();
          name = `torture-${++fileNo}.aof`;
          file = path.join(dir, name);
          expected = Buffer.alloc(0);
          figures.files++;
        }
        const context = `seed ${SEED} round ${round} file ${name}`;
        const writer = new ReportingChild('control-writer.mjs', [dir, name, String(SEED), String(round), String(RATE)]);
        const [, openSize, openKind] = await writer.waitFor('open ');
        expect(Number(openSize), context).toBe(expected.length);
        expect(Number(openKind), context).toBe(expected.length === 0 ? RecoveryKind.Empty : RecoveryKind.Tail);
        if (!reader) {
          // The writer holds the lock while it lives.
          const m = new Manager(dir);
          expect(() => m.open(name, geometry())).toThrow(expect.objectContaining({ code: 'ERR_AOF_LOCKED' }));
          await m.close();
          reader = startReader(file);
          await reader.following;
        }
        // Kill anywhere from right after opening to well into the writes (1–2 growth steps).
        await sleep(rand() * 40);
        writer.kill();
        await writer.killed();
        figures.kills++;

        let acknowledged = expected.length;
        for (const line of writer.lines) {
          const [what, size] = line.split(' ');
          if (what === 'w') acknowledged = Math.max(acknowledged, Number(size));
        }
        figures.acknowledged += acknowledged - expected.length;

        // The bytes alone: a torn tail here has no checkpoint to roll back to.
        const raw = fs.readFileSync(file);
        const rr = recoverWithMagic(raw.length, raw);
        const torn = rr.kind !== RecoveryKind.Tail;
        if (torn) {
          figures.torn++;
          expect(rr.kind, `${context}: a torn tail without checkpoints`).toBe(RecoveryKind.Corrupted);
        } else {
          figures.cleanTail++;
        }

        const m = new Manager(dir);
        try {
          const aof = m.open(name, geometry());
          expect(aof.state, context).toBe(FileState.Opened);
          expect(aof.recovery.kind, context).toBe(expected.length === 0 && aof.size === 0 ? RecoveryKind.Empty : RecoveryKind.Tail);
          expect(Boolean(aof.recovery.fromControlBlock), `${context}: the control block decides exactly when the tail is torn`)
            .toBe(torn && aof.size > 0);
          if (torn) figures.rolledBackBytes += rr.end - aof.size;
          const size = aof.size;
          if (size < acknowledged) figures.lost += acknowledged - size;
          expect(size, `${context}: every acknowledged write survives`).toBeGreaterThanOrEqual(acknowledged);
          if (size > acknowledged) figures.keptPastAck++;
          const view = aof.view();
          expectSameBytes(view.subarray(0, expected.length), expected, `${context}: earlier rounds`);
          const fresh = new Stream(SEED, round).prefix(size - expected.length, false);
          expectSameBytes(view.subarray(expected.length), fresh, `${context}: this round`);
          expected = Buffer.concat([expected, fresh]);
        } finally {
          await m.close();
        }
      }

      await finishFile();
      console.log(`crash-kill-control figures: ${JSON.stringify(figures)}`);
      expect(figures.lost).toBe(0);
    } finally {
      reader?.stop();
    }
  }, 120_000 + KILLS * 1_000);
});
