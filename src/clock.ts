import { abortReason } from "./abort.js";

/** Where the workflow reads time and waits. Inject a FakeClock in tests to drive time by hand. */
export interface Clock {
  now(): Date;
  /** Resolves after `ms`, or rejects with the signal's reason once it aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** The longest delay a Node.js timer takes; a longer one would fire at once. */
const maxTimerMs = 2 ** 31 - 1;

/** The wall clock. Polling intervals always use it, whatever clock a workflow has. */
export const systemClock: Clock = {
  now: () => new Date(),
  async sleep(ms, signal) {
    // Long waits (up to Infinity) are slept in pieces a timer can hold.
    let leftMs = ms;
    while (leftMs > maxTimerMs) {
      await timerSleep(maxTimerMs, signal);
      leftMs -= maxTimerMs;
    }
    return timerSleep(leftMs, signal);
  },
};

function timerSleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(abortReason(signal));
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortReason(signal as AbortSignal));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, Math.max(0, ms));
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** Calls `fire` every `ms` of wall-clock time until the returned function is called. */
export function wallInterval(ms: number, fire: () => void): () => void {
  const interval = setInterval(fire, Math.max(1, ms));
  // A poller must not keep the process alive by itself.
  interval.unref();
  return () => clearInterval(interval);
}

/**
 * The clock of an adapter that was given none: the system clock until a workflow built on the
 * adapter brings its own (`build({ clock })`), which it then follows. So a FakeClock given to
 * `build()` also stamps the memory adapters' events and timeouts without being passed twice.
 */
export class FollowingClock implements Clock {
  #clock: Clock = systemClock;
  #adopted = false;

  now(): Date {
    return this.#clock.now();
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return this.#clock.sleep(ms, signal);
  }

  /** Follows `clock` from now on; the first workflow's clock wins. */
  adopt(clock: Clock): void {
    if (this.#adopted) return;
    this.#clock = clock;
    this.#adopted = true;
  }
}

/** The key of the method by which an adapter takes the clock of the workflow built on it. */
export const adoptClock: unique symbol = Symbol("stepwise.adoptClock");

/** An adapter that stamps times with the clock of the workflow built on it, unless given one of its own. */
export interface ClockAdopter {
  [adoptClock](clock: Clock): void;
}

/** Hands the workflow's clock to each adapter that takes it. */
export function shareClock(clock: Clock, adapters: readonly unknown[]): void {
  for (const adapter of adapters) {
    if (typeof adapter === "object" && adapter !== null && adoptClock in adapter) (adapter as ClockAdopter)[adoptClock](clock);
  }
}
