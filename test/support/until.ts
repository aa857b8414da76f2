import { setTimeout as delay } from "node:timers/promises";

/** Checks `condition` every millisecond until it holds, failing after `timeoutMs` with `what`. */
export async function until(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await delay(1);
  }
}
