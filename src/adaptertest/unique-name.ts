import { randomUUID } from "node:crypto";

/**
 * A name no other case (or earlier test run against the same database) has used, so stores that
 * persist between cases still see only what the current case wrote.
 */
export function uniqueName(prefix: string): string {
  return `${prefix}-${randomUUID()}`;
}
