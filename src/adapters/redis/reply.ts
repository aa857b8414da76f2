// Scripts and `callBuffer` hand bulk strings out as Buffers; these read them back.

/** A bulk reply as text (UTF-8); anything else as "". */
export function replyText(value: unknown): string {
  if (Buffer.isBuffer(value)) return value.toString("utf8");
  return typeof value === "string" ? value : "";
}

/** A decimal integer as the scripts store it, or undefined when the reply holds none. */
export function replyInteger(value: unknown): number | undefined {
  const digits = replyText(value);
  const n = digits === "" ? Number.NaN : Number(digits);
  return Number.isSafeInteger(n) ? n : undefined;
}
