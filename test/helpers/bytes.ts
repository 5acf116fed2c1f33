/** Shared helpers for byte-level tests. */
import assert from 'node:assert/strict';
import { SluiceError, type ErrorCode } from '../../src/core/errors.js';

/** Concatenates annotated hex fields into bytes (whitespace ignored). */
export const hex = (...fields: string[]): Buffer => Buffer.from(fields.join('').replace(/\s+/g, ''), 'hex');

/** Asserts fn throws a SluiceError with `code` (and a message matching `message`, if given). */
export function throwsCode(fn: () => unknown, code: ErrorCode, message?: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof SluiceError, `expected SluiceError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    if (message) assert.match(err.message, message);
    return true;
  });
}
