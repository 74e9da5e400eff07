/** Geometry (docs/api.md, "Geometry"): defaults, page alignment, immutability, validation, growth. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AofError, Geometry, MAX_FILE_SIZE } from '../src/index.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const PAGE = 4096;

/** Runs `fn` and returns what it threw (failing the test when it does not throw). */
function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  throw new Error('expected a throw, but nothing was thrown');
}

function expectInvalidArg(fn: () => unknown): void {
  const e = thrown(fn);
  expect(e).toBeInstanceOf(AofError);
  expect((e as AofError).code).toBe('ERR_AOF_INVALID_ARG');
}

function fields(g: Geometry) {
  return { sizeNow: g.sizeNow, sizeUpper: g.sizeUpper, growthStep: g.growthStep, pageSize: g.pageSize, create: g.create };
}

describe('Geometry defaults', () => {
  it('fills sizeNow = one page, sizeUpper = 16 MiB, growthStep = 1 MiB on validate', () => {
    const g = new Geometry({ pageSize: PAGE }).validate();
    expect(fields(g)).toEqual({ sizeNow: PAGE, sizeUpper: 16 * MiB, growthStep: 1 * MiB, pageSize: PAGE, create: true });
  });

  it('uses the machine page size by default, a power of two, and one such page as sizeNow', () => {
    const g = Geometry.create().validate();
    expect(g.pageSize).toBeGreaterThan(0);
    expect(Number.isInteger(Math.log2(g.pageSize))).toBe(true);
    expect(g.sizeNow).toBe(g.pageSize);
    expect(g.sizeUpper).toBe(16 * MiB);
    expect(g.growthStep).toBe(1 * MiB);
  });

  it('fills the default of a large page size as that page', () => {
    const g = new Geometry({ pageSize: 64 * KiB }).validate();
    expect(g.sizeNow).toBe(64 * KiB);
    expect(g.sizeUpper).toBe(16 * MiB);
    expect(g.growthStep).toBe(1 * MiB);
  });

  it('fills only the sizes left at zero and keeps the ones given', () => {
    const g = Geometry.create().with(8 * PAGE, 0, 0).validate();
    expect(g.sizeNow).toBe(8 * PAGE);
    expect(g.sizeUpper).toBe(16 * MiB);
    expect(g.growthStep).toBe(1 * MiB);
    const h = Geometry.create().with(0, 32 * MiB, 64 * KiB).validate();
    expect(h.sizeNow).toBe(h.pageSize);
    expect(h.sizeUpper).toBe(32 * MiB);
    expect(h.growthStep).toBe(64 * KiB);
  });

  it('keeps sizeUpper at least sizeNow when only a sizeNow past 16 MiB is given', () => {
    const g = new Geometry({ pageSize: PAGE, sizeNow: 20 * MiB }).validate();
    expect(g.sizeNow).toBe(20 * MiB);
    expect(g.sizeUpper).toBeGreaterThanOrEqual(20 * MiB);
  });
});

describe('Geometry page alignment', () => {
  it('rounds every size up to a whole page on validate', () => {
    const g = new Geometry({ pageSize: PAGE, sizeNow: 1, sizeUpper: 10 * PAGE + 1, growthStep: 5000 }).validate();
    expect(g.sizeNow).toBe(PAGE);
    expect(g.sizeUpper).toBe(11 * PAGE);
    expect(g.growthStep).toBe(2 * PAGE);
  });

  it('leaves sizes that are already whole pages as they are', () => {
    const g = new Geometry({ pageSize: PAGE, sizeNow: 3 * PAGE, sizeUpper: 7 * PAGE, growthStep: 2 * PAGE }).validate();
    expect(g.sizeNow).toBe(3 * PAGE);
    expect(g.sizeUpper).toBe(7 * PAGE);
    expect(g.growthStep).toBe(2 * PAGE);
  });

  it('aligns to the geometry page size, not a fixed 4 KiB', () => {
    const g = new Geometry({ pageSize: 16 * KiB, sizeNow: 4 * KiB, sizeUpper: 40 * KiB, growthStep: 20 * KiB }).validate();
    expect(g.sizeNow).toBe(16 * KiB);
    expect(g.sizeUpper).toBe(48 * KiB);
    expect(g.growthStep).toBe(32 * KiB);
  });

  it('validates to page-aligned sizes no smaller and less than a page larger than asked, idempotently (property)', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(4 * KiB, 8 * KiB, 16 * KiB, 64 * KiB),
        fc.nat({ max: 8 * MiB }),
        fc.nat({ max: 64 * MiB }),
        fc.nat({ max: 4 * MiB }),
        (pageSize, sizeNow, extra, growthStep) => {
          const sizeUpper = sizeNow + extra;
          const g = new Geometry({ pageSize, sizeNow, sizeUpper, growthStep }).validate();
          for (const [got, asked] of [[g.sizeNow, sizeNow], [g.sizeUpper, sizeUpper], [g.growthStep, growthStep]] as const) {
            expect(got % pageSize).toBe(0);
            expect(got).toBeGreaterThan(0);
            if (asked > 0) {
              expect(got).toBeGreaterThanOrEqual(asked);
              expect(got).toBeLessThan(asked + pageSize);
            }
          }
          expect(g.sizeUpper).toBeGreaterThanOrEqual(g.sizeNow);
          expect(fields(g.validate())).toEqual(fields(g));
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe('Geometry.create and Geometry.open', () => {
  it('creates the file when missing with Geometry.create()', () => {
    expect(Geometry.create().create).toBe(true);
    expect(Geometry.create().validate().create).toBe(true);
  });

  it('only opens an existing file with Geometry.open()', () => {
    expect(Geometry.open().create).toBe(false);
    expect(Geometry.open().validate().create).toBe(false);
  });

  it('keeps create through with() and withSizeNow()', () => {
    expect(Geometry.open().with(PAGE, 2 * PAGE, PAGE).create).toBe(false);
    expect(Geometry.open().withSizeNow(PAGE).create).toBe(false);
    expect(Geometry.create().with(PAGE, 2 * PAGE, PAGE).create).toBe(true);
    expect(Geometry.create().withSizeNow(PAGE).create).toBe(true);
  });
});

describe('Geometry immutability', () => {
  it('returns a new geometry from with() and leaves the original untouched', () => {
    const original = new Geometry({ pageSize: PAGE, sizeNow: PAGE, sizeUpper: 8 * PAGE, growthStep: PAGE });
    const before = fields(original);
    const changed = original.with(2 * PAGE, 16 * PAGE, 4 * PAGE);
    expect(changed).not.toBe(original);
    expect(changed).toBeInstanceOf(Geometry);
    expect(fields(original)).toEqual(before);
    expect(fields(changed)).toEqual({ ...before, sizeNow: 2 * PAGE, sizeUpper: 16 * PAGE, growthStep: 4 * PAGE });
  });

  it('returns a new geometry from withSizeNow() that changes only sizeNow', () => {
    const original = new Geometry({ pageSize: PAGE, sizeNow: PAGE, sizeUpper: 8 * PAGE, growthStep: PAGE, create: false });
    const before = fields(original);
    const changed = original.withSizeNow(3 * PAGE);
    expect(changed).not.toBe(original);
    expect(fields(original)).toEqual(before);
    expect(fields(changed)).toEqual({ ...before, sizeNow: 3 * PAGE });
  });

  it('returns a new geometry from validate() and leaves the original unvalidated', () => {
    const original = Geometry.create();
    const validated = original.validate();
    expect(validated).not.toBe(original);
    expect(original.sizeNow).toBe(0);
    expect(original.sizeUpper).toBe(0);
    expect(original.growthStep).toBe(0);
    expect(validated.sizeNow).toBeGreaterThan(0);
  });

  it('refuses assignment to its fields', () => {
    const g = Geometry.create().validate();
    expect(() => {
      (g as { sizeNow: number }).sizeNow = 123;
    }).toThrow(TypeError);
    expect(() => {
      (g as { create: boolean }).create = false;
    }).toThrow(TypeError);
    expect(g.sizeNow).toBe(g.pageSize);
    expect(g.create).toBe(true);
  });
});

describe('Geometry validation', () => {
  it('rejects sizeUpper below sizeNow with ERR_AOF_INVALID_ARG', () => {
    expectInvalidArg(() => Geometry.create().with(2 * MiB, 1 * MiB, 0).validate());
    expectInvalidArg(() => new Geometry({ pageSize: PAGE, sizeNow: 3 * PAGE, sizeUpper: 2 * PAGE }).validate());
  });

  it('accepts sizeUpper equal to sizeNow', () => {
    const g = new Geometry({ pageSize: PAGE, sizeNow: 5 * PAGE, sizeUpper: 5 * PAGE }).validate();
    expect(g.sizeNow).toBe(5 * PAGE);
    expect(g.sizeUpper).toBe(5 * PAGE);
  });

  it('rejects a sizeUpper past MAX_FILE_SIZE with ERR_AOF_INVALID_ARG', () => {
    expect(MAX_FILE_SIZE).toBeGreaterThan(16 * MiB);
    expectInvalidArg(() => new Geometry({ pageSize: PAGE, sizeUpper: MAX_FILE_SIZE + PAGE }).validate());
    expectInvalidArg(() => new Geometry({ pageSize: PAGE, sizeUpper: Number.MAX_SAFE_INTEGER - 1 }).validate());
  });

  it('rejects a sizeNow past MAX_FILE_SIZE with ERR_AOF_INVALID_ARG', () => {
    expectInvalidArg(() => new Geometry({ pageSize: PAGE, sizeNow: MAX_FILE_SIZE + PAGE }).validate());
    expectInvalidArg(() =>
      new Geometry({ pageSize: PAGE, sizeNow: MAX_FILE_SIZE + PAGE, sizeUpper: MAX_FILE_SIZE + PAGE }).validate(),
    );
  });

  it('validates every size it accepts to at most MAX_FILE_SIZE', () => {
    const top = Math.floor(MAX_FILE_SIZE / PAGE) * PAGE;
    const g = new Geometry({ pageSize: PAGE, sizeUpper: top }).validate();
    expect(g.sizeUpper).toBe(top);
    expect(g.sizeUpper).toBeLessThanOrEqual(MAX_FILE_SIZE);
  });

  const bad: [string, unknown][] = [
    ['negative', -1],
    ['NaN', Number.NaN],
    ['non-integer', 1.5],
    ['infinite', Number.POSITIVE_INFINITY],
    ['a string', '4096'],
    ['a bigint', 4096n],
  ];
  for (const field of ['sizeNow', 'sizeUpper', 'growthStep'] as const) {
    for (const [what, value] of bad) {
      it(`rejects a ${what} ${field} in the constructor with ERR_AOF_INVALID_ARG`, () => {
        expectInvalidArg(() => new Geometry({ [field]: value as number }));
      });
    }
  }

  it('rejects negative, NaN and non-integer sizes given to with() and withSizeNow()', () => {
    const g = Geometry.create();
    expectInvalidArg(() => g.with(-1, 0, 0));
    expectInvalidArg(() => g.with(0, Number.NaN, 0));
    expectInvalidArg(() => g.with(0, 0, 0.5));
    expectInvalidArg(() => g.withSizeNow(-4096));
    expectInvalidArg(() => g.withSizeNow(Number.NaN));
    expectInvalidArg(() => g.withSizeNow(4096.5));
  });

  it('rejects a page size that is not a power of two', () => {
    expectInvalidArg(() => new Geometry({ pageSize: 0 }));
    expectInvalidArg(() => new Geometry({ pageSize: 3000 }));
    expectInvalidArg(() => new Geometry({ pageSize: 3 * PAGE }));
    expectInvalidArg(() => new Geometry({ pageSize: -PAGE }));
  });

  it('rejects a page size that is not a power of two even past 32 bits', () => {
    // 3 * 2^31 and 3 * 2^32 are not powers of two; their low 32 bits are (2^31) or zero.
    expectInvalidArg(() => new Geometry({ pageSize: 3 * 2 ** 31 }));
    expectInvalidArg(() => new Geometry({ pageSize: 3 * 2 ** 32 }));
  });
});

describe('Geometry.next', () => {
  const g = new Geometry({ pageSize: PAGE, sizeNow: PAGE, sizeUpper: 16 * MiB, growthStep: 1 * MiB }).validate();

  it('rounds up to a whole step and adds one step of headroom', () => {
    expect(g.next(1)).toBe(2 * MiB);
    expect(g.next(1 * MiB - 1)).toBe(2 * MiB);
    expect(g.next(1 * MiB)).toBe(2 * MiB);
    expect(g.next(1 * MiB + 1)).toBe(3 * MiB);
    expect(g.next(2 * MiB)).toBe(3 * MiB);
    expect(g.next(5 * MiB + 12345)).toBe(7 * MiB);
  });

  it('gives one step for a size of zero', () => {
    expect(g.next(0)).toBe(1 * MiB);
  });

  it('clamps to sizeUpper', () => {
    expect(g.next(15 * MiB)).toBe(16 * MiB);
    expect(g.next(15 * MiB + 1)).toBe(16 * MiB);
    expect(g.next(16 * MiB)).toBe(16 * MiB);
    expect(g.next(100 * MiB)).toBe(16 * MiB);
  });

  it('clamps to a sizeUpper that is not a whole number of steps', () => {
    const h = new Geometry({ pageSize: PAGE, sizeNow: PAGE, sizeUpper: 10 * PAGE, growthStep: 4 * PAGE }).validate();
    expect(h.next(1)).toBe(8 * PAGE);
    expect(h.next(4 * PAGE + 1)).toBe(10 * PAGE);
  });

  it('never returns less than sizeNow', () => {
    const h = new Geometry({ pageSize: PAGE, sizeNow: 8 * MiB, sizeUpper: 16 * MiB, growthStep: 1 * MiB }).validate();
    expect(h.next(0)).toBe(8 * MiB);
    expect(h.next(1)).toBe(8 * MiB);
    expect(h.next(6 * MiB)).toBe(8 * MiB);
    expect(h.next(7 * MiB + 1)).toBe(9 * MiB);
  });

  it('grows by the validated (page-aligned) step when the step asked for was not a whole page', () => {
    const h = new Geometry({ pageSize: PAGE, sizeNow: PAGE, sizeUpper: 1 * MiB, growthStep: 5000 }).validate();
    expect(h.growthStep).toBe(2 * PAGE);
    expect(h.next(1)).toBe(4 * PAGE);
    expect(h.next(2 * PAGE)).toBe(4 * PAGE);
    expect(h.next(2 * PAGE + 1)).toBe(6 * PAGE);
  });

  it('grows in steps smaller than a megabyte', () => {
    const h = new Geometry({ pageSize: PAGE, sizeNow: PAGE, sizeUpper: 1 * MiB, growthStep: 3 * PAGE }).validate();
    expect(h.next(1)).toBe(6 * PAGE);
    expect(h.next(3 * PAGE)).toBe(6 * PAGE);
    expect(h.next(3 * PAGE + 1)).toBe(9 * PAGE);
  });

  it('rejects a negative, NaN or fractional size with ERR_AOF_INVALID_ARG', () => {
    expectInvalidArg(() => g.next(-1));
    expectInvalidArg(() => g.next(Number.NaN));
    expectInvalidArg(() => g.next(1.5));
  });

  it('is page-aligned, within [sizeNow, sizeUpper], leaves a step of headroom and is monotonic (property)', () => {
    const geometry = fc
      .record({
        pageSize: fc.constantFrom(4 * KiB, 8 * KiB, 16 * KiB, 64 * KiB),
        sizeNow: fc.nat({ max: 4 * MiB }),
        extra: fc.nat({ max: 64 * MiB }),
        growthStep: fc.oneof(fc.nat({ max: 2 * MiB }), fc.integer({ min: 1, max: 64 }).map((n) => n * 4 * KiB)),
      })
      .map(({ pageSize, sizeNow, extra, growthStep }) =>
        new Geometry({ pageSize, sizeNow, sizeUpper: sizeNow + extra, growthStep }).validate(),
      );
    const size = fc.oneof(fc.nat({ max: 80 * MiB }), fc.nat({ max: 64 * KiB }));
    fc.assert(
      fc.property(geometry, size, size, (geo, a, b) => {
        const { pageSize, sizeNow, sizeUpper, growthStep: step } = geo;
        const r = geo.next(a);
        expect(Number.isSafeInteger(r)).toBe(true);
        expect(r % pageSize).toBe(0);
        expect(r).toBeGreaterThanOrEqual(sizeNow);
        expect(r).toBeLessThanOrEqual(sizeUpper);
        // Room for `size` plus a whole step, unless sizeUpper stops it.
        expect(r).toBeGreaterThanOrEqual(Math.min(a + step, sizeUpper));
        // No more than two steps past `size`, unless sizeNow asks for more.
        expect(r).toBeLessThanOrEqual(Math.max(sizeNow, a + 2 * step));
        // A whole number of steps, unless clamped to sizeNow or sizeUpper.
        if (r !== sizeNow && r !== sizeUpper) expect(r % step).toBe(0);
        // Worked by hand: whole steps for `size` plus one, then clamped.
        expect(r).toBe(Math.min(Math.max(Math.ceil(a / step) * step + step, sizeNow), sizeUpper));
        // Asking for more never grows less.
        const [lo, hi] = a <= b ? [a, b] : [b, a];
        expect(geo.next(lo)).toBeLessThanOrEqual(geo.next(hi));
      }),
      { numRuns: 3000 },
    );
  });
});
