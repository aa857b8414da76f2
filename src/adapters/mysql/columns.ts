// How stepwise's values are written to and read from MySQL columns.

import { ValueNotStorableError } from "../../errors.js";

const minDatetimeMs = Date.UTC(1000, 0, 1);
const maxDatetimeMs = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

/**
 * A Date as a `DATETIME(3)` literal in UTC (`2026-01-02 03:04:05.678`). Sent as text, so neither
 * the pool's `timezone` option nor the session's `time_zone` can shift it. ValueNotStorableError,
 * naming `field`, for a Date outside the column's years.
 */
export function toDatetime(date: Date, field: string): string {
  const ms = date.getTime();
  if (!(ms >= minDatetimeMs && ms <= maxDatetimeMs)) {
    throw new ValueNotStorableError(field, `a MySQL DATETIME holds the years 1000 to 9999, and it is ${Number.isNaN(ms) ? "an Invalid Date" : date.toISOString()}`);
  }
  return date.toISOString().slice(0, 23).replace("T", " ");
}

/** A Date to compare with a `DATETIME(3)` column: one outside the column's years compares as its nearer end. */
export function datetimeBound(date: Date): string {
  return toDatetime(new Date(Math.min(Math.max(date.getTime(), minDatetimeMs), maxDatetimeMs)), "a time compared");
}

/** Reads a `CAST(… AS CHAR)` of a `DATETIME(3)` column written by {@link toDatetime}; undefined when it is not one. */
export function fromDatetime(value: unknown): Date | undefined {
  if (typeof value !== "string" || !/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{1,6})?$/.test(value)) return undefined;
  const date = new Date(`${value.replace(" ", "T")}Z`);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

/** A text column: VARBINARY columns come back as Buffers holding UTF-8, TEXT columns as strings. */
export function toText(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  if (Buffer.isBuffer(value)) return value.toString("utf8");
  return undefined;
}

/** Bytes as mysql2 sends them in binary: a Buffer over the same memory, not a copy. */
export function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

