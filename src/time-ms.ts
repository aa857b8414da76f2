/** The most milliseconds from the epoch, either way, that a Date holds; past it a Date is invalid. */
const maxTimeMs = 8.64e15;

/** Whether `ms` (a whole number read from a store) is a time a Date can hold. */
export function isTimeMs(ms: number | undefined): ms is number {
  return ms !== undefined && Math.abs(ms) <= maxTimeMs;
}
