import { abortReason } from "./abort.js";

/** Where the workflow reads time and waits. Inject a FakeClock in tests to drive time by hand. */
export interface Clock {
  now(): Date;
  /** Resolves after `ms`, or rejects with the signal's reason once it aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** The wall clock. Polling intervals always use it, whatever clock a workflow has. */
export const systemClock: Clock = {
  now: () => new Date(),
  sleep(ms, signal) {
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
  },
};

/** Calls `fire` every `ms` of wall-clock time until the returned function is called. */
export function wallInterval(ms: number, fire: () => void): () => void {
  const interval = setInterval(fire, Math.max(1, ms));
  // A poller must not keep the process alive by itself.
  interval.unref();
  return () => clearInterval(interval);
}
