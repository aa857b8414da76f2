import { waitOver } from "../../abort.js";
import { systemClock } from "../../clock.js";

// A command on a client whose server is down waits in the client's offline queue, for as long as
// the client's retry policy says. Waits that a caller's signal or a shutdown must be able to end
// go through `untilAborted` (src/abort.ts); clean-ups whose failure costs only time through this.

/**
 * Awaits `work` for at most `ms`, then gives up on it quietly; for clean-ups whose failure costs
 * only time (a lease that expires by itself, acks whose events come again).
 */
export async function atMost(ms: number, work: Promise<unknown>): Promise<void> {
  const done = new AbortController();
  try {
    await Promise.race([work.then(ignore, ignore), systemClock.sleep(ms, done.signal).catch(ignore)]);
  } finally {
    done.abort(waitOver);
  }
}

function ignore(): void {}
