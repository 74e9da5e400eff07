/**
 * Sizes of a file: how big it starts, how big it may become, and how it grows.
 * Immutable: every `with…` returns a new Geometry.
 */
import { invalidArg } from './errors.js';
import { validateBoolean, validateInteger, validateObject } from './validate.js';
import { native } from './native.js';

export const KiB = 1024;
export const MiB = 1024 * KiB;
export const GiB = 1024 * MiB;

/** Largest mapping (and so file) this Node can address as one buffer. */
export const MAX_FILE_SIZE = native.maxBuffer;

export interface GeometryFields {
  /** Size the file has right after it is created (and at least after it is opened). */
  sizeNow: number;
  /** The file never grows past this; a write that would is `ERR_AOF_FULL`. */
  sizeUpper: number;
  /** Growth granularity. */
  growthStep: number;
  /** Page size of the machine; sizes are multiples of it. */
  pageSize: number;
  /** Create the file when it is missing (otherwise `ERR_AOF_NOT_FOUND`). */
  create: boolean;
}

const DEFAULTS = { sizeUpper: 16 * MiB, growthStep: 1 * MiB } as const;

function alignUp(n: number, page: number): number {
  return Math.ceil(n / page) * page;
}

export class Geometry implements Readonly<GeometryFields> {
  readonly sizeNow: number;
  readonly sizeUpper: number;
  readonly growthStep: number;
  readonly pageSize: number;
  readonly create: boolean;

  /** Zero fields mean "default" until {@link validate} fills them in. */
  constructor(fields: Partial<GeometryFields> = {}) {
    validateObject(fields, 'fields');
    // `??`: null means "default" here, as undefined does.
    const sizeNow = fields.sizeNow ?? 0;
    const sizeUpper = fields.sizeUpper ?? 0;
    const growthStep = fields.growthStep ?? 0;
    const pageSize = fields.pageSize ?? native.pageSize;
    const create = fields.create ?? true;
    validateInteger(sizeNow, 'geometry.sizeNow');
    validateInteger(sizeUpper, 'geometry.sizeUpper');
    validateInteger(growthStep, 'geometry.growthStep');
    validateInteger(pageSize, 'geometry.pageSize');
    if (pageSize === 0 || !Number.isInteger(Math.log2(pageSize))) throw invalidArg('geometry.pageSize', 'a power of two', pageSize);
    validateBoolean(create, 'geometry.create');
    this.sizeNow = sizeNow;
    this.sizeUpper = sizeUpper;
    this.growthStep = growthStep;
    this.pageSize = pageSize;
    this.create = create;
    Object.freeze(this);
  }

  /** A geometry that creates the file when it is missing. */
  static create(): Geometry {
    return new Geometry({ create: true });
  }

  /** A geometry that only opens an existing file. */
  static open(): Geometry {
    return new Geometry({ create: false });
  }

  with(sizeNow: number, sizeUpper: number, growthStep: number): Geometry {
    return new Geometry({ ...this.#fields(), sizeNow, sizeUpper, growthStep });
  }

  withSizeNow(sizeNow: number): Geometry {
    return new Geometry({ ...this.#fields(), sizeNow });
  }

  withCreate(create: boolean): Geometry {
    return new Geometry({ ...this.#fields(), create });
  }

  /**
   * Fills defaults (sizeNow = one page, sizeUpper = 16 MiB, growthStep = 1 MiB) and rounds every
   * size up to a whole page. Throws `ERR_AOF_INVALID_ARG` when sizeUpper < sizeNow or past
   * {@link MAX_FILE_SIZE}.
   */
  validate(): Geometry {
    const page = this.pageSize;
    const sizeNow = alignUp(this.sizeNow || page, page);
    const sizeUpper = alignUp(this.sizeUpper || Math.max(DEFAULTS.sizeUpper, sizeNow), page);
    const growthStep = alignUp(this.growthStep || DEFAULTS.growthStep, page);
    if (sizeUpper < sizeNow) {
      throw invalidArg('geometry.sizeUpper', `at least sizeNow (${sizeNow})`, sizeUpper);
    }
    if (sizeUpper > MAX_FILE_SIZE) {
      throw invalidArg('geometry.sizeUpper', `at most ${MAX_FILE_SIZE} (the largest buffer Node maps)`, sizeUpper);
    }
    return new Geometry({ sizeNow, sizeUpper, growthStep, pageSize: page, create: this.create });
  }

  /**
   * The size to grow to so that `size` bytes fit: rounded up to a whole step plus one step of
   * headroom, never below sizeNow, never above sizeUpper, page-aligned. Call on a validated geometry.
   */
  next(size: number): number {
    validateInteger(size, 'size');
    const step = this.growthStep || DEFAULTS.growthStep;
    const grown = alignUp(Math.ceil(size / step) * step + step, this.pageSize);
    return Math.min(Math.max(grown, this.sizeNow), this.sizeUpper || DEFAULTS.sizeUpper);
  }

  #fields(): GeometryFields {
    const { sizeNow, sizeUpper, growthStep, pageSize, create } = this;
    return { sizeNow, sizeUpper, growthStep, pageSize, create };
  }
}
