/**
 * A one-line progress bar on a terminal, for the `aof` command's long work (recover, bench, a
 * large cat). It draws only when its stream is a TTY, only once the work has run for a moment
 * (`delayMs`: quick jobs never flash a bar) and at most every `intervalMs`; `finish()` erases it.
 * Anywhere else (a pipe, a file, a CI log) it writes nothing.
 */

/** What a progress bar writes to: `process.stderr`, or a test's fake. */
export interface ProgressStream {
  isTTY?: boolean;
  columns?: number;
  write(text: string): unknown;
}

export interface ProgressOptions {
  /** Shown before the bar. */
  label: string;
  /** The amount of work when done (bytes or items); 0 or less: unknown, no percentage. */
  total: number;
  /** How `done` and `total` print: 'bytes' (KiB, MiB…) or 'count' (plain numbers). Default 'bytes'. */
  unit?: 'bytes' | 'count';
  /** Default `process.stderr`. */
  stream?: ProgressStream;
  /** False: never draw, whatever the stream (e.g. output goes to the same terminal). Default true. */
  enabled?: boolean;
  /** Nothing is drawn before the work has run this long (ms). Default 250. */
  delayMs?: number;
  /** At most one redraw per this many ms. Default 100. */
  intervalMs?: number;
  /** The clock, in ms (tests pass a fake). Default `performance.now`. */
  now?: () => number;
}

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

/** `1536` → `1.5 KiB`; below 1 KiB, plain bytes. */
export function formatBytes(n: number): string {
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${n} B` : `${value.toFixed(1)} ${UNITS[unit]}`;
}

/** One progress bar: `update(done)` as the work goes, `finish()` at the end (or before other output). */
export class Progress {
  readonly #label: string;
  #total: number;
  readonly #unit: 'bytes' | 'count';
  readonly #stream: ProgressStream;
  readonly #active: boolean;
  readonly #delayMs: number;
  readonly #intervalMs: number;
  readonly #now: () => number;
  readonly #started: number;
  #lastDraw = -Infinity;
  #drawn = false;
  #done = 0;

  constructor(options: ProgressOptions) {
    this.#label = options.label;
    this.#total = options.total;
    this.#unit = options.unit ?? 'bytes';
    this.#stream = options.stream ?? process.stderr;
    this.#active = (options.enabled ?? true) && this.#stream.isTTY === true;
    this.#delayMs = options.delayMs ?? 250;
    this.#intervalMs = options.intervalMs ?? 100;
    this.#now = options.now ?? (() => performance.now());
    this.#started = this.#now();
  }

  /** True when this bar may draw (its stream is a TTY and it was not disabled). */
  get active(): boolean {
    return this.#active;
  }

  /** The amount of work when done (it may be learnt late). */
  set total(total: number) {
    this.#total = total;
  }

  /** Records `done` units of work and redraws when it is time to. */
  update(done: number): void {
    this.#done = done;
    if (!this.#active) return;
    const now = this.#now();
    if (now - this.#started < this.#delayMs || now - this.#lastDraw < this.#intervalMs) return;
    this.#lastDraw = now;
    this.#drawn = true;
    this.#stream.write(`\r${this.line()}`);
  }

  /** The line as it would be drawn now, fitted to the terminal's width. */
  line(): string {
    const width = Math.max(20, (this.#stream.columns || 80) - 1);
    const fmt = (n: number) => (this.#unit === 'bytes' ? formatBytes(n) : String(n));
    const known = this.#total > 0;
    const ratio = known ? Math.min(1, this.#done / this.#total) : 0;
    const figures = known ? ` ${Math.floor(ratio * 100)}% ${fmt(this.#done)}/${fmt(this.#total)}` : ` ${fmt(this.#done)}`;
    const room = width - this.#label.length - figures.length - 3;
    if (!known || room < 5) return `${this.#label}${figures}`.slice(0, width).padEnd(width);
    const bar = Math.round(ratio * room);
    return `${this.#label} [${'#'.repeat(bar)}${'.'.repeat(room - bar)}]${figures}`;
  }

  /** Erases the bar if it was drawn. Call it before printing anything else, and at the end. */
  finish(): void {
    if (this.#drawn) this.#stream.write('\r\x1b[2K');
    this.#drawn = false;
  }
}

/**
 * True when a command may draw progress on stderr: stderr is a terminal, and, for a command
 * whose output streams to stdout, stdout is not (the bar would be drawn through the output).
 */
export function progressAllowed(streamsToStdout: boolean): boolean {
  return process.stderr.isTTY === true && !(streamsToStdout && process.stdout.isTTY === true);
}
