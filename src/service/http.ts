/**
 * HTTP plumbing shared by the service's routes: JSON replies, the error model (AofError codes and
 * the service's own codes mapped to HTTP statuses), bounded body collection, query parsing.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { AofError, ErrorCode } from '../errors.js';

/** Codes of conditions only the service has (the library's own are `ErrorCode`). */
export const ServiceCode = {
  /** The request body is larger than `bodyLimit` (413). */
  BODY_TOO_LARGE: 'ERR_SERVICE_BODY_TOO_LARGE',
  /** The stream exists with the other kind (raw vs records) (409). */
  STREAM_KIND: 'ERR_SERVICE_STREAM_KIND',
  /** No such route (404). */
  NO_ROUTE: 'ERR_SERVICE_NO_ROUTE',
  /** The route exists, not with this method (405). */
  METHOD: 'ERR_SERVICE_METHOD',
  /** The service is shutting down (503). */
  SHUTTING_DOWN: 'ERR_SERVICE_SHUTTING_DOWN',
  /** The client went away before the body was complete (nothing appended; never answered). */
  ABORTED: 'ERR_SERVICE_ABORTED',
} as const;
export type ServiceCode = (typeof ServiceCode)[keyof typeof ServiceCode];

/** An error the service answers with `status` and `{ error: { code, message } }`. */
export class HttpError extends Error {
  constructor(readonly status: number, readonly code: string, message: string, readonly headers: Record<string, string> = {}) {
    super(message);
  }

  override get name(): string {
    return 'HttpError';
  }
}

/** HTTP status of each library error code; anything not listed is 500. */
const STATUS: Partial<Record<ErrorCode, number>> = {
  [ErrorCode.INVALID_ARG]: 400,
  [ErrorCode.NOT_FOUND]: 404,
  [ErrorCode.LOCKED]: 409,
  [ErrorCode.READ_ONLY]: 409, // a finished stream (or a file we may not write)
  [ErrorCode.IS_DIRECTORY]: 409,
  [ErrorCode.RECORD_TOO_BIG]: 413,
  [ErrorCode.FULL]: 507,
  [ErrorCode.NO_SPACE]: 507,
  [ErrorCode.CLOSED]: 503, // only while shutting down
  [ErrorCode.WOULD_BLOCK]: 503,
};

export function statusOf(error: unknown): number {
  if (error instanceof HttpError) return error.status;
  if (error instanceof AofError) return STATUS[error.code] ?? 500;
  return 500;
}

export function errorBody(error: unknown): { error: { code: string; message: string } } {
  if (error instanceof HttpError || error instanceof AofError) return { error: { code: error.code, message: error.message } };
  return { error: { code: 'ERR_SERVICE_INTERNAL', message: error instanceof Error ? error.message : String(error) } };
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(text);
}

export function sendError(res: ServerResponse, error: unknown): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const headers = error instanceof HttpError ? error.headers : {};
  sendJson(res, statusOf(error), errorBody(error), headers);
}

export function badArg(message: string): AofError {
  return new AofError(ErrorCode.INVALID_ARG, message);
}

/**
 * A query parameter as a non-negative safe integer; `undefined` when absent; `end` (when allowed)
 * as the string itself.
 */
export function intParam(params: URLSearchParams, name: string): number | undefined {
  const raw = params.get(name);
  if (raw === null || raw === '') return undefined;
  if (!/^\d{1,16}$/.test(raw) || !Number.isSafeInteger(Number(raw))) {
    throw badArg(`query parameter ${name}: expected a non-negative integer, got ${JSON.stringify(raw.slice(0, 40))}`);
  }
  return Number(raw);
}

/** `?flag=1` / `true` / `yes` / empty (`?flag`) → true; `0`/`false`/`no` → false; absent → undefined. */
export function flagParam(params: URLSearchParams, name: string): boolean | undefined {
  const raw = params.get(name);
  if (raw === null) return undefined;
  if (raw === '' || raw === '1' || raw === 'true' || raw === 'yes') return true;
  if (raw === '0' || raw === 'false' || raw === 'no') return false;
  throw badArg(`query parameter ${name}: expected 1 or 0, got ${JSON.stringify(raw.slice(0, 40))}`);
}

/**
 * A body declared over the limit is still read (and discarded) up to this size, so that the client
 * can finish sending and read the 413; a larger one is answered at once and the connection closed.
 */
export const DRAIN_LIMIT = 256 * 1024 * 1024;

export function tooLarge(limit: number): HttpError {
  return new HttpError(413, ServiceCode.BODY_TOO_LARGE, `request body larger than the limit of ${limit} bytes`, { connection: 'close' });
}

/**
 * The whole request body, bounded by `limit`. A declared length over the limit is read to its end
 * and discarded (up to DRAIN_LIMIT), then rejected with 413; a body of unknown length (chunked) is
 * rejected as soon as the bytes received pass the limit (its end may never come). Rejects with
 * ABORTED when the client goes away before the body is complete: nothing is appended then.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = req.headers['content-length'];
    if (declared !== undefined && Number(declared) > limit) {
      // Expect: 100-continue: no 100 was sent (see the server's checkContinue), so no body comes.
      if (Number(declared) > DRAIN_LIMIT || /100-continue/i.test(String(req.headers.expect ?? ''))) {
        reject(tooLarge(limit));
        return;
      }
      // Read the body to its end, discarding it, and answer then: a client that is still
      // sending when the server answers and closes gets EPIPE and never reads the 413 (9 of 10
      // fetch() calls of a 64 MiB body did). An abandoned body is counted as aborted, as below.
      req.on('data', () => {});
      req.once('end', () => reject(tooLarge(limit)));
      req.once('close', () => {
        if (!req.complete) reject(new HttpError(499, ServiceCode.ABORTED, 'the client closed the connection before the body was complete'));
      });
      return;
    }
    const chunks: Buffer[] = [];
    let length = 0;
    let done = false;
    const finish = (error: unknown, body?: Buffer) => {
      if (done) return;
      done = true;
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
      if (error) reject(error);
      else resolve(body!);
    };
    const onData = (chunk: Buffer) => {
      length += chunk.length;
      if (length > limit) {
        chunks.length = 0;
        req.pause(); // stop reading: the reply closes the connection
        finish(tooLarge(limit));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => finish(undefined, chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, length));
    const aborted = () => new HttpError(499, ServiceCode.ABORTED, 'the client closed the connection before the body was complete');
    const onError = () => finish(aborted());
    const onClose = () => finish(req.complete ? undefined : aborted(), Buffer.concat(chunks, length));
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}

/** Resolves on the response's next 'drain'; rejects if it closes, or `signal` aborts, first. */
export function drained(res: ServerResponse, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const cleanup = () => {
      res.off('drain', onDrain);
      res.off('close', onClose);
      signal?.removeEventListener('abort', onClose);
    };
    const onDrain = () => {
      cleanup();
      resolve();
    };
    const onClose = () => {
      cleanup();
      reject(new HttpError(499, ServiceCode.ABORTED, 'the client went away'));
    };
    if (res.destroyed || signal?.aborted) {
      onClose();
      return;
    }
    res.on('drain', onDrain);
    res.on('close', onClose);
    signal?.addEventListener('abort', onClose);
  });
}
