import type { EventStreamer } from "./event.js";
import type { RecordStore } from "./record.js";
import type { RoleScheduler } from "./rolescheduler.js";
import type { TimeoutStore } from "./timeout-store.js";

/**
 * What every bundle function (`memory()`, `sqlite()`, `postgres()`, `mysql()`, `redis()`,
 * `nats()`, `kafka()`) returns: the parts its engine provides, ready to spread into `build()`,
 * and one `close()`. Engines that only stream events return no record or timeout store; combine
 * them with a bundle or store that has one. `etcd()`, which only schedules roles, returns the
 * same shape without the streamer.
 *
 * @example
 * ```ts
 * const adapters = postgres({ pool });
 * const wf = b.build(adapters);
 * await wf.run();
 * // …
 * await wf.stop();
 * await adapters.close();
 * await pool.end(); // the pool is yours: close() never ends it
 * ```
 */
export interface Adapters {
  eventStreamer: EventStreamer;
  recordStore?: RecordStore;
  timeoutStore?: TimeoutStore;
  roleScheduler?: RoleScheduler;
  /**
   * Ends what the bundle opened (receivers still open, connections it took from the pool, a file
   * it opened), never the user's client, pool or database. Call it after `wf.stop()`. Idempotent:
   * a second call returns the first call's promise.
   */
  close(): Promise<void>;
}

/** `close` made idempotent: it runs once, and every call returns that run's promise. */
export function closeOnce(close: () => Promise<unknown>): () => Promise<void> {
  let closing: Promise<void> | undefined;
  return () => (closing ??= close().then(() => undefined));
}
