import { systemClock } from "../clock.js";
import { hasErrorCode } from "../errors.js";

/** How long the waiting helpers wait before failing, unless told otherwise. */
export const defaultWaitMs = 10_000;

/**
 * Checks `condition` until it returns a value (not undefined), every few milliseconds of wall time,
 * and throws naming `what` once `timeoutMs` has passed. A fault a chaos wrapper injected into the
 * check counts as "not yet": the helpers keep working on a workflow built on chaos adapters.
 */
export async function pollUntil<V>(what: string, condition: () => Promise<V | undefined>, timeoutMs = defaultWaitMs): Promise<V> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await condition().catch((err: unknown) => {
      if (hasErrorCode(err, "INJECTED_FAULT")) return undefined;
      throw err;
    });
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await systemClock.sleep(2);
  }
}
