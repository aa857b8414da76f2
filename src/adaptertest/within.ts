import { AssertionError } from "node:assert/strict";
import { setImmediate } from "node:timers/promises";
import { systemClock } from "../clock.js";

/**
 * How long a case waits for something an adapter should do promptly. Generous, because it only
 * bounds a failing case; a passing case never waits for it.
 */
export const waitLimitMs = 5_000;

/**
 * Awaits `work` for at most {@link waitLimitMs}, failing with a message naming `what` was awaited.
 * Given a function, it is called with a signal that aborts at the limit, to pass on to the
 * adapter (`within("the first event", (signal) => receiver.recv(signal))`).
 */
export async function within<T>(what: string, work: Promise<T> | ((signal: AbortSignal) => Promise<T>)): Promise<T> {
  const message = `waited ${waitLimitMs} ms for ${what}`;
  const limit = new AbortController();
  const finished = new AbortController();
  // A ref'd timer (systemClock.sleep) rather than AbortSignal.timeout, whose timer is unref'd: when
  // an adapter never settles and holds no handle open, the runner would end the process with a
  // vague "promise still pending" instead of failing the case with this message.
  const expired = systemClock.sleep(waitLimitMs, finished.signal).then(() => {
    const err = new AssertionError({ message });
    limit.abort(err);
    throw err;
  });
  expired.catch(() => undefined); // it also rejects when `finished` aborts, after the race is over
  try {
    return await Promise.race([typeof work === "function" ? work(limit.signal) : work, expired]);
  } catch (err) {
    // The adapter may have seen the limit's abort before we did; report what was awaited, not the abort.
    if (limit.signal.aborted) throw new AssertionError({ message });
    throw err;
  } finally {
    finished.abort();
  }
}

export { whenAborted } from "../abort.js";

/**
 * Lets pending I/O callbacks and microtasks run a few times, so an operation just started has
 * reached its waiting state. Not a sleep: it waits for no duration, and no assertion depends on
 * an adapter being done by then, only on it not having done something it must not do.
 */
export async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await setImmediate();
}
