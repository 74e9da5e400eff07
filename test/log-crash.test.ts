/**
 * kill -9 tortures of the record log (`src/log/`). A child (test/fixtures/log-writer.mjs,
 * on the built dist) writes records that say what they are (test/fixtures/log-records.mjs: id,
 * epoch, deterministic bytes) and reports every acknowledged id on fd 3 after append() returned.
 *
 * 1. Appends: single and batch appends across many segment rolls (16 KiB segments), killed at
 *    seeded random instants. Reopened: every acknowledged id is there with its bytes, ids have no
 *    gap, lastId ≥ the last acknowledged id (only whole records past it), and the next round's
 *    writer continues from there. Every third round deletes the control blocks first: recovery
 *    from the bytes alone (as after a power loss).
 * 2. Truncate and trim in a loop with appends, killed at random instants: the reopened log is the
 *    state before the operation in flight or the state after it (firstId, lastId and every
 *    record's epoch), never a gap, never a record a truncate removed.
 * 3. The same, deterministically: the child kills itself right before each file-system step of
 *    one truncate or trim (every step, for five scenarios), and then right before each step of
 *    the reopen that redoes it (two scenarios).
 *
 * AOF_TORTURE_KILLS sets the number of kills of 1 and 2 (default 50), AOF_TORTURE_SEED the seed
 * (printed).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { AofError, Log, RecoveryKind, recoverWithMagic } from '../src/index.js';
import { describeRecord } from './fixtures/log-records.mjs';
import { tmpDir } from './helpers.js';
import { ReportingChild, prng } from './torture.js';

const KILLS = Math.max(1, Number(process.env.AOF_TORTURE_KILLS ?? 50) | 0);
const SEED = (process.env.AOF_TORTURE_SEED !== undefined
  ? Number(process.env.AOF_TORTURE_SEED)
  : (Date.now() ^ (process.pid << 16))) >>> 0;
const SEGMENT = 16 * 1024;
/** Bytes per millisecond the append writer is paced to (about ten segment rolls per round). */
const RATE = 4_000;

/** What the log must hold: its ends and the epoch of every record in between. */
interface LogState {
  firstId: number;
  lastId: number;
  epochs: Map<number, number>;
}

type Op = { op: 'truncate'; target: number } | { op: 'trim'; target: number; predicted: number };

const copyState = (s: LogState): LogState => ({ firstId: s.firstId, lastId: s.lastId, epochs: new Map(s.epochs) });

/** The state after `op` returned. */
function applyOp(s: LogState, op: Op): LogState {
  const next = copyState(s);
  if (op.op === 'truncate') {
    const keep = Math.max(op.target, s.firstId - 1);
    if (keep >= s.lastId) return next;
    for (let id = keep + 1; id <= s.lastId; id++) next.epochs.delete(id);
    next.lastId = keep;
  } else if (op.predicted > s.firstId) {
    for (let id = s.firstId; id < op.predicted; id++) next.epochs.delete(id);
    next.firstId = op.predicted;
  }
  return next;
}

interface Found {
  error?: string;
  firstId: number;
  lastId: number;
  /** By the iterator: the id it gave, and what the bytes say. */
  records: Array<{ id: number; bytesId?: number; epoch?: number; error?: string }>;
}

/** Opens the log in this process and reads every record (iterator and get). */
async function inspect(dir: string, seed: number): Promise<Found> {
  let log: Log;
  try {
    log = await Log.open(dir, { segmentSize: SEGMENT });
  } catch (e) {
    return { error: `Log.open failed: ${(e as AofError).code} ${(e as Error).message}`, firstId: 0, lastId: 0, records: [] };
  }
  const found: Found = { firstId: log.firstId, lastId: log.lastId, records: [] };
  try {
    for (const r of log.iterator()) {
      const d = describeRecord(r.data, seed);
      found.records.push({ id: r.id, bytesId: d.id, epoch: d.epoch, error: d.error });
    }
    for (const r of found.records) {
      const d = describeRecord(log.get(r.id), seed);
      if (d.id !== r.bytesId || d.epoch !== r.epoch) r.error = `get(${r.id}) and the iterator disagree`;
    }
  } catch (e) {
    found.error = `reading: ${(e as AofError).code} ${(e as Error).message}`;
  } finally {
    await log.close();
  }
  return found;
}

/**
 * What differs between the reopened log and `want`. `extraEpoch`: records past want.lastId are
 * allowed (appends that had not returned), as whole records of that epoch.
 */
function compare(found: Found, want: LogState, extraEpoch?: number): string[] {
  if (found.error) return [found.error];
  const p: string[] = [];
  if (found.firstId !== want.firstId) p.push(`firstId ${found.firstId}, expected ${want.firstId}`);
  if (extraEpoch === undefined ? found.lastId !== want.lastId : found.lastId < want.lastId) {
    p.push(`lastId ${found.lastId}, expected ${extraEpoch === undefined ? '' : 'at least '}${want.lastId}`);
  }
  const count = Math.max(found.lastId - found.firstId + 1, 0);
  if (found.records.length !== count) p.push(`the iterator gave ${found.records.length} records for ids ${found.firstId}…${found.lastId}`);
  found.records.forEach((r, i) => {
    if (p.length > 8) return;
    if (r.id !== found.firstId + i) p.push(`the iterator gave id ${r.id} at position ${i} (a gap)`);
    else if (r.error) p.push(`record ${r.id}: ${r.error}`);
    else if (r.bytesId !== r.id) p.push(`record ${r.id} holds the bytes of record ${r.bytesId}`);
    else {
      const epoch = r.id <= want.lastId ? want.epochs.get(r.id) : extraEpoch;
      if (r.epoch !== epoch) p.push(`record ${r.id} is of epoch ${r.epoch}, expected ${epoch}`);
    }
  });
  return p;
}

/**
 * {@link inspect}; when Log.open fails, the failure is recorded in `failures` (once per call) and
 * the open is tried again while each attempt fails differently (a failed open may have repaired
 * one thing), so one failure does not hide the rest of the run.
 */
async function inspectOrRecord(dir: string, seed: number, failures: string[], context: string): Promise<Found> {
  let found = await inspect(dir, seed);
  if (!found.error?.startsWith('Log.open failed')) return found;
  const errors = [found.error];
  for (let attempt = 0; attempt < 100; attempt++) {
    found = await inspect(dir, seed);
    if (!found.error?.startsWith('Log.open failed') || errors.includes(found.error)) break;
    errors.push(found.error);
  }
  failures.push(`${context}: ${errors.length} failed Log.open: ${errors.join(' | ')}`);
  if (found.error) throw new Error(`${context}: ${found.error}; earlier failures:\n${failures.join('\n')}`);
  return found;
}

function stateOf(found: Found): LogState {
  return { firstId: found.firstId, lastId: found.lastId, epochs: new Map(found.records.map((r) => [r.id, r.epoch!])) };
}

function deleteControlBlocks(dir: string): number {
  const shm = fs.readdirSync(dir).filter((n) => n.endsWith('-shm'));
  for (const n of shm) fs.rmSync(path.join(dir, n));
  return shm.length;
}

function segmentCount(dir: string): number {
  return fs.readdirSync(dir).filter((n) => n.endsWith('.seg')).length;
}

describe('kill -9 of a record log writer', () => {
  it(`keeps every acknowledged record, in order and with no gap, across ${KILLS} kills during appends and segment rolls`, async () => {
    console.log(`log-crash appends: seed ${SEED} (AOF_TORTURE_SEED=${SEED} reproduces), ${KILLS} kills`);
    const rand = prng(SEED);
    const dir = tmpDir('aof-log-crash-');
    let state: LogState = { firstId: 1, lastId: 0, epochs: new Map() };
    const figures = {
      kills: 0, acknowledged: 0, batches: 0, keptUnacknowledged: 0, lost: 0, segmentsRolled: 0, tornTails: 0,
      roundsWithoutControlBlock: 0, parentTrims: 0, openFailures: 0,
    };
    const failures: string[] = [];
    for (let round = 0; round < KILLS; round++) {
      const context = `seed ${SEED} round ${round}`;
      const segmentsBefore = segmentCount(dir);
      const child = new ReportingChild('log-writer.mjs', ['append', dir, String(SEED), String(round), String(SEGMENT), String(RATE)]);
      const [, first, last] = await child.waitFor('open ');
      expect([Number(first), Number(last)], `${context}: the next writer opens where the last one was left`).toEqual([state.firstId, state.lastId]);
      await sleep(rand() * 40);
      child.kill();
      await child.killed();
      figures.kills++;

      const acked = copyState(state);
      for (const line of child.lines) {
        const [what, a, b, epoch] = line.split(' ');
        if (what !== 'a') continue;
        expect(Number(a), `${context}: acknowledged ids are consecutive`).toBe(acked.lastId + 1);
        for (let id = Number(a); id <= Number(b); id++) acked.epochs.set(id, Number(epoch));
        if (Number(b) > Number(a)) figures.batches++;
        acked.lastId = Number(b);
      }
      figures.acknowledged += acked.lastId - state.lastId;
      figures.segmentsRolled += segmentCount(dir) - segmentsBefore;
      // The bytes alone: was the active segment's tail torn (a kill inside an append)?
      const active = fs.readdirSync(dir).filter((n) => n.endsWith('.seg')).sort().at(-1)!;
      const raw = fs.readFileSync(path.join(dir, active));
      const kind = recoverWithMagic(raw.length, raw).kind;
      if (kind !== RecoveryKind.Tail && kind !== RecoveryKind.Empty) figures.tornTails++;
      if (round % 3 === 2) {
        deleteControlBlocks(dir);
        figures.roundsWithoutControlBlock++;
      }
      const found = await inspectOrRecord(dir, SEED, failures, context);
      if (found.lastId < acked.lastId) figures.lost += acked.lastId - found.lastId;
      const problems = compare(found, acked, 0);
      if (problems.length > 0) {
        failures.push(`${context}: reopened after the kill: ${problems.join('; ')}`);
        break; // the next rounds would start from a state the test does not know
      }
      figures.keptUnacknowledged += found.lastId - acked.lastId;
      state = stateOf(found);

      // Keep the log small: the parent trims it now and then (reopen after trim is part of the test).
      if (state.lastId - state.firstId > 3_000) {
        const log = await Log.open(dir, { segmentSize: SEGMENT });
        await log.trim(state.lastId - 500);
        state = applyOp(state, { op: 'trim', target: state.lastId - 500, predicted: log.firstId });
        await log.close();
        figures.parentTrims++;
      }
    }
    figures.openFailures = failures.filter((f) => f.includes('failed Log.open')).length;
    console.log(`log-crash appends figures: ${JSON.stringify(figures)}`);
    expect(failures, `${failures.length} failures in ${figures.kills} kills`).toEqual([]);
    expect(figures.lost).toBe(0);
  }, 120_000 + KILLS * 2_000);

  it(`leaves the state before or after a truncate or trim in flight, across ${KILLS} kills of a writer that truncates and trims in a loop`, async () => {
    console.log(`log-crash truncate/trim: seed ${SEED} (AOF_TORTURE_SEED=${SEED} reproduces), ${KILLS} kills`);
    const rand = prng(SEED ^ 0x7121);
    const dir = tmpDir('aof-log-crash-ops-');
    let state: LogState = { firstId: 1, lastId: 0, epochs: new Map() };
    const figures = {
      kills: 0, truncates: 0, trims: 0, emptied: 0, killedInTruncate: 0, killedInTrim: 0, killedElsewhere: 0,
      reopenedOld: 0, reopenedNew: 0, keptUnacknowledged: 0, roundsWithoutControlBlock: 0, openFailures: 0,
    };
    const failures: string[] = [];
    for (let round = 0; round < KILLS; round++) {
      const context = `seed ${SEED} round ${round}`;
      const child = new ReportingChild('log-writer.mjs', ['ops', dir, String(SEED), String(round), String(SEGMENT)]);
      const [, first, last] = await child.waitFor('open ');
      expect([Number(first), Number(last)], `${context}: the next writer opens where the last one was left`).toEqual([state.firstId, state.lastId]);
      await sleep(rand() * 60);
      child.kill();
      await child.killed();
      figures.kills++;

      // Replay the reports: the acknowledged state, and the operation in flight if any.
      let model = copyState(state);
      let pending: Op | undefined;
      let epoch = round * 1000;
      for (const line of child.lines.slice(1)) {
        const w = line.split(' ');
        if (w[0] === 'a') {
          expect(pending, `${context}: no append while an operation runs`).toBeUndefined();
          expect(Number(w[1]), `${context}: ${line}`).toBe(model.lastId + 1);
          for (let id = Number(w[1]); id <= Number(w[2]); id++) model.epochs.set(id, Number(w[3]));
          model.lastId = Number(w[2]);
          epoch = Number(w[3]);
        } else if (w[0] === 't') {
          pending = w[1] === 'truncate'
            ? { op: 'truncate', target: Number(w[2]) }
            : { op: 'trim', target: Number(w[2]), predicted: Number(w[3]) };
          const [f, l] = w[1] === 'truncate' ? [w[3], w[4]] : [w[4], w[5]];
          expect([Number(f), Number(l)], `${context}: ${line}`).toEqual([model.firstId, model.lastId]);
        } else if (w[0] === 'T') {
          model = applyOp(model, pending!);
          expect([Number(w[1]), Number(w[2])], `${context}: ${line} after ${JSON.stringify(pending)}`).toEqual([model.firstId, model.lastId]);
          if (pending!.op === 'truncate') {
            figures.truncates++;
            if (model.lastId < model.firstId) figures.emptied++;
            epoch++;
          } else {
            figures.trims++;
          }
          pending = undefined;
        }
      }
      if (round % 3 === 2) {
        deleteControlBlocks(dir);
        figures.roundsWithoutControlBlock++;
      }
      const found = await inspectOrRecord(dir, SEED, failures, `${context} (killed ${pending ? `during ${JSON.stringify(pending)}` : 'outside truncate/trim'})`);
      if (pending) {
        if (pending.op === 'truncate') figures.killedInTruncate++;
        else figures.killedInTrim++;
        const after = applyOp(model, pending);
        const asBefore = compare(found, model);
        const asAfter = compare(found, after);
        if (asAfter.length === 0) figures.reopenedNew++;
        else if (asBefore.length === 0) figures.reopenedOld++;
        if (asBefore.length > 0 && asAfter.length > 0) {
          failures.push(`${context}: killed during ${JSON.stringify(pending)}; neither the state before (${asBefore.join('; ')}) ` +
            `nor the state after (${asAfter.join('; ')})`);
          break;
        }
      } else {
        figures.killedElsewhere++;
        const problems = compare(found, model, epoch);
        if (problems.length > 0) {
          failures.push(`${context}: killed outside truncate/trim: ${problems.join('; ')}`);
          break;
        }
        figures.keptUnacknowledged += found.lastId - model.lastId;
      }
      state = stateOf(found);
    }
    figures.openFailures = failures.filter((f) => f.includes('failed Log.open')).length;
    console.log(`log-crash truncate/trim figures: ${JSON.stringify(figures)}`);
    expect(failures, `${failures.length} failures in ${figures.kills} kills`).toEqual([]);
  }, 120_000 + KILLS * 2_000);
});

// --- a kill right before every file-system step of one truncate or trim ---------------------------

const SCENARIOS = ['truncate-sealed', 'truncate-boundary', 'truncate-active', 'truncate-empty-after-trim', 'trim'] as const;
/** A fixed seed: the same scenario takes the same steps in every child. */
const STEP_SEED = 20_260_101;

interface Ready {
  op: 'truncate' | 'trim';
  target: number;
  firstId: number;
  lastId: number;
  predicted: number;
}

/** Builds a scenario's log (in a child, as the writer would) in a new directory: its snapshot and what to run on it. */
async function prepare(scenario: string): Promise<{ snapshot: string; ready: Ready }> {
  const snapshot = tmpDir(`aof-log-step-${scenario}-`);
  const child = new ReportingChild('log-writer.mjs', ['prepare', snapshot, String(STEP_SEED), scenario, String(SEGMENT)]);
  const exit = await child.exited;
  const ready = child.lines.find((l) => l.startsWith('ready '));
  if (exit.code !== 0 || !ready) throw new Error(`prepare ${scenario}: code ${exit.code}, signal ${exit.signal}:\n${exit.stderr}`);
  return { snapshot, ready: JSON.parse(ready.slice(6)) as Ready };
}

/** A copy of the snapshot in a new directory (removed after the test). */
function copyOf(snapshot: string): string {
  const dir = tmpDir('aof-log-step-');
  fs.cpSync(snapshot, dir, { recursive: true });
  return dir;
}

/**
 * Runs the child on `dir` to kill itself right before counted step `killAt` of the operation
 * (`step`) or of Log.open (`reopen`). `steps`: how many it counted when it was not killed.
 */
async function runStep(mode: 'step' | 'reopen', dir: string, ready: Ready, killAt: number): Promise<{ killed: boolean; steps?: number }> {
  const child = new ReportingChild('log-writer.mjs', [mode, dir, String(STEP_SEED), `${ready.op}:${ready.target}`, String(SEGMENT), String(killAt)]);
  const exit = await child.exited;
  if (exit.signal === 'SIGKILL') return { killed: true };
  const done = child.lines.find((l) => l.startsWith('done '));
  if (exit.code !== 0 || !done) {
    throw new Error(`${mode} ${JSON.stringify(ready)} killAt ${killAt}: exited with code ${exit.code}, signal ${exit.signal}:\n${exit.stderr}\n${child.lines.slice(-3).join(' | ')}`);
  }
  return { killed: false, steps: Number(done.split(' ')[3]) };
}

function before(ready: Ready): LogState {
  const epochs = new Map<number, number>();
  for (let id = ready.firstId; id <= ready.lastId; id++) epochs.set(id, 0);
  return { firstId: ready.firstId, lastId: ready.lastId, epochs };
}

function opOf(ready: Ready): Op {
  return ready.op === 'truncate' ? { op: 'truncate', target: ready.target } : { op: 'trim', target: ready.target, predicted: ready.predicted };
}

/** Old or new, and then the next append gets the id after lastId. Returns 'old' | 'new' or the problems. */
async function checkOldOrNew(dir: string, ready: Ready): Promise<'old' | 'new' | string> {
  const old = before(ready);
  const after = applyOp(old, opOf(ready));
  const found = await inspect(dir, STEP_SEED);
  const asAfter = compare(found, after);
  const asBefore = compare(found, old);
  const which = asAfter.length === 0 ? 'new' : asBefore.length === 0 ? 'old' : undefined;
  if (!which) return `neither the state before (${asBefore.join('; ')}) nor the state after (${asAfter.join('; ')})`;
  const log = await Log.open(dir, { segmentSize: SEGMENT });
  try {
    const id = log.append(Buffer.from('next'));
    const want = (which === 'new' ? after : old).lastId + 1;
    if (id !== want) return `${which} state, but the next append got id ${id}, expected ${want}`;
  } finally {
    await log.close();
  }
  return which;
}

/** Maps fn over items, `limit` at a time. */
async function pool<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  }));
  return out;
}

describe('kill -9 at every file-system step of a record log truncate or trim', () => {
  const letter = (outcome: string): string => (outcome === 'old' || outcome === 'new' ? outcome[0]! : 'X');

  it.each(SCENARIOS)('%s: a kill before any step leaves the state before or after, and the next id follows it', async (scenario) => {
    const { snapshot, ready } = await prepare(scenario);
    const probe = copyOf(snapshot);
    const full = await runStep('step', probe, ready, 1_000_000);
    expect(full.killed).toBe(false);
    expect(await checkOldOrNew(probe, ready), 'the operation run to its end').toBe('new');
    const results = await pool(Array.from({ length: full.steps! }, (_, i) => i + 1), 4, async (killAt) => {
      const dir = copyOf(snapshot);
      const r = await runStep('step', dir, ready, killAt);
      expect(r.killed, `killAt ${killAt}`).toBe(true);
      const outcome = await checkOldOrNew(dir, ready);
      fs.rmSync(dir, { recursive: true, force: true });
      return { killAt, outcome };
    });
    console.log(`log-crash steps ${scenario}: ${full.steps} steps, outcomes ${results.map((r) => letter(r.outcome)).join('')}`);
    const failures = results.filter((r) => letter(r.outcome) === 'X').map((r) => `killed before step ${r.killAt} of ${JSON.stringify(ready)}: ${r.outcome}`);
    expect(failures, `${failures.length} of ${results.length} kill points`).toEqual([]);
  }, 60_000);

  it.each(['truncate-sealed', 'truncate-empty-after-trim'])('%s: a second kill at every step of the reopen that redoes it still ends old or new', async (scenario) => {
    const { snapshot: prepared, ready } = await prepare(scenario);
    // The first kill: at the first step that leaves the intent on disk (the most left to redo).
    let snapshot: string | undefined;
    for (let killAt = 1; killAt < 100 && !snapshot; killAt++) {
      const dir = copyOf(prepared);
      expect((await runStep('step', dir, ready, killAt)).killed, `${scenario}: the operation ended before its intent was on disk`).toBe(true);
      if (fs.existsSync(path.join(dir, 'intent.json'))) snapshot = dir;
    }
    expect(snapshot).toBeDefined();
    // How many steps the whole reopen takes, then a kill before each of them.
    const probe = copyOf(snapshot!);
    const full = await runStep('reopen', probe, ready, 1_000_000);
    expect(full.killed).toBe(false);
    expect(await checkOldOrNew(probe, ready), 'a reopen that completes redoes the operation').toBe('new');
    const results = await pool(Array.from({ length: full.steps! }, (_, i) => i + 1), 4, async (killAt) => {
      const dir = copyOf(snapshot!);
      const r = await runStep('reopen', dir, ready, killAt);
      expect(r.killed, `killAt ${killAt}`).toBe(true);
      const outcome = await checkOldOrNew(dir, ready);
      fs.rmSync(dir, { recursive: true, force: true });
      return { killAt, outcome };
    });
    console.log(`log-crash redo ${scenario}: ${full.steps} steps, outcomes ${results.map((r) => letter(r.outcome)).join('')}`);
    const failures = results.filter((r) => letter(r.outcome) === 'X').map((r) => `killed before step ${r.killAt} of the reopen: ${r.outcome}`);
    expect(failures, `${failures.length} of ${results.length} kill points`).toEqual([]);
  }, 60_000);
});
