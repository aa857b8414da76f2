// Waiting with an AbortSignal. A workflow hands one long-lived signal (its stop signal) to every
// wait of every process, so a wait that leaves its listener behind when it settles leaks one per
// wait. Every wait on a signal in stepwise goes through here, and removes its listeners however it
// settles.

/** Why `signal` aborted: its reason, or an AbortError when it has none. */
export function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException("This operation was aborted", "AbortError");
}

/** Throws the reason of the first of `signals` that has aborted, if any. */
export function throwIfAborted(...signals: readonly AbortSignal[]): void {
  for (const signal of signals) if (signal.aborted) throw abortReason(signal);
}

/**
 * Settles as `work` does, or rejects with the reason of the first of `signals` to abort, whichever
 * comes first. `work` goes on after an abort (its outcome is then ignored); the listeners are
 * removed as soon as the returned promise settles.
 *
 * @example
 * ```ts
 * const reply = await untilAborted(client.call("GET", key), signal);
 * ```
 */
export function untilAborted<T>(work: Promise<T>, ...signals: readonly AbortSignal[]): Promise<T> {
  // Nothing can abort it, so the work alone settles it: no linked signal to make (an await
  // without a signal or timeout waits here once per run).
  if (signals.length === 0) return work;
  const link = linkSignals(...signals);
  if (link.signal.aborted) {
    work.catch(ignore);
    return Promise.reject(link.signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    link.signal.addEventListener("abort", () => reject(link.signal.reason), { once: true });
    work.then(
      (value) => {
        link.unlink();
        resolve(value);
      },
      (err: unknown) => {
        link.unlink();
        reject(err);
      },
    );
  });
}

/**
 * Resolves once `wake` is called, or rejects with the reason of the first of `signals` to abort.
 * `listen` registers the waker and returns what unregisters it, which runs when the wait settles
 * either way: for waits on a notice (a release, an arrival) rather than on a promise.
 *
 * @example
 * ```ts
 * await untilWoken((wake) => { wakers.add(wake); return () => wakers.delete(wake); }, signal);
 * ```
 */
export async function untilWoken(listen: (wake: () => void) => () => void, ...signals: readonly AbortSignal[]): Promise<void> {
  throwIfAborted(...signals);
  let wake!: () => void;
  const woken = new Promise<void>((resolve) => (wake = resolve));
  const unlisten = listen(wake);
  try {
    await untilAborted(woken, ...signals);
  } finally {
    unlisten();
  }
}

/**
 * Resolves once `signal` aborts (at once if it has), with its reason; for waits that only end by
 * an abort. Its listener goes with the abort, so never race it against another promise: a wait
 * that can end otherwise leaves it behind. Use {@link untilAborted} for those.
 */
export function whenAborted(signal: AbortSignal): Promise<unknown> {
  if (signal.aborted) return Promise.resolve(abortReason(signal));
  return new Promise((resolve) => signal.addEventListener("abort", () => resolve(abortReason(signal)), { once: true }));
}

/** A signal that aborts with the first of several; see {@link linkSignals}. */
export interface LinkedSignal {
  readonly signal: AbortSignal;
  /** Stops listening to the signals it was linked to; it no longer aborts after this. */
  unlink(): void;
}

/**
 * A signal that aborts, with the same reason, as soon as any of `signals` does, until `unlink()`.
 * Unlike `AbortSignal.any`, it lets go of the signals it follows as soon as it is no longer
 * needed, so a long-lived signal linked once per wait keeps nothing from finished ones.
 */
export function linkSignals(...signals: readonly AbortSignal[]): LinkedSignal {
  const controller = new AbortController();
  const removers: (() => void)[] = [];
  const unlink = () => {
    for (const remove of removers.splice(0)) remove();
  };
  for (const signal of signals) {
    if (signal.aborted) {
      unlink();
      controller.abort(abortReason(signal));
      break;
    }
    const onAbort = () => {
      unlink();
      controller.abort(abortReason(signal));
    };
    signal.addEventListener("abort", onAbort, { once: true });
    removers.push(() => signal.removeEventListener("abort", onAbort));
  }
  return { signal: controller.signal, unlink };
}

function ignore(): void {}

/**
 * The reason to abort a controller that only ends a wait once its work is done. `abort()` without
 * a reason builds a DOMException with a stack each time, which on a per-event path costs more
 * than the event.
 */
export const waitOver = new Error("the wait is over");
