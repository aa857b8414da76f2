import { ValueNotStorableError } from "./errors.js";

/** A high surrogate not followed by a low one, or a low one not preceded by a high one. */
const loneSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Refuses text that no store keeps faithfully: a NUL (PostgreSQL rejects it) or a lone surrogate
 * (SQLite and MySQL replace it, so two foreign ids could become one; PostgreSQL rejects it).
 * Checked before anything is stored, so the error names the field instead of a driver's message.
 */
export function checkStorableText(field: string, value: string): void {
  if (typeof value !== "string") throw new ValueNotStorableError(field, `it must be a string, got ${typeof value}`);
  if (value.includes("\u0000")) throw new ValueNotStorableError(field, "it contains a NUL character");
  if (loneSurrogate.test(value)) throw new ValueNotStorableError(field, "it contains a lone UTF-16 surrogate");
}

/** Refuses text longer than `maxBytes` in UTF-8, as a store's column would. */
export function checkTextBytes(field: string, value: string, maxBytes: number): void {
  const bytes = Buffer.byteLength(value, "utf8");
  if (bytes > maxBytes) throw new ValueNotStorableError(field, `it is ${bytes} bytes of UTF-8, and the store keeps at most ${maxBytes}`);
}
