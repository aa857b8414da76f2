import { closeOnce, type Adapters } from "../../adapters.js";
import type { Clock } from "../../clock.js";
import { MemoryEventStreamer } from "./event-streamer.js";
import { MemoryRecordStore } from "./record-store.js";
import { MemoryRoleScheduler } from "./role-scheduler.js";
import { MemoryTimeoutStore } from "./timeout-store.js";

export { MemoryEventStreamer, type MemoryEventStreamerOptions } from "./event-streamer.js";
export { MemoryRecordStore, type MemoryRecordStoreOptions } from "./record-store.js";
export { MemoryTimeoutStore, type MemoryTimeoutStoreOptions } from "./timeout-store.js";
export { MemoryRoleScheduler, type MemoryRoleSchedulerOptions } from "./role-scheduler.js";
export { MemoryRoleCluster, type MemoryRoleClusterOptions } from "./role-cluster.js";
export { MemoryConnector } from "./connector.js";

/**
 * The adapters {@link memory} returns, typed as the memory classes so their extras stay in reach.
 * `close()` closes the receivers still open; everything else lives in this process's memory.
 */
export interface MemoryAdapters extends Adapters {
  eventStreamer: MemoryEventStreamer;
  recordStore: MemoryRecordStore;
  timeoutStore: MemoryTimeoutStore;
  roleScheduler: MemoryRoleScheduler;
  /** The record store publishes each record's event on the streamer itself: no outbox hop. */
  outbox: false;
}

/** Options of {@link memory}. */
export interface MemoryOptions {
  /** Stamps event, outbox event and timeout creation times. Default: the system clock. */
  clock?: Clock;
}

/**
 * Fresh in-process adapters for one process: nothing survives a restart. Pass the result to
 * `build()`. Without a `clock` here, they follow the clock given to `build()` (a FakeClock in tests).
 * The record store publishes each record's event on the streamer as it stores the record, so the
 * workflow runs no outbox process (`outbox: false`). Keep that in mind when you combine parts:
 * with another record store, build with `outbox: true`.
 *
 * @example
 * ```ts
 * import { memory } from "stepwise/memory";
 * const adapters = memory();
 * const wf = b.build(adapters);
 * adapters.recordStore.snapshots(runId); // every version the run went through
 * ```
 */
export function memory(options: MemoryOptions = {}): MemoryAdapters {
  const { clock } = options;
  const eventStreamer = new MemoryEventStreamer({ clock });
  return {
    eventStreamer,
    recordStore: new MemoryRecordStore({ clock, eventStreamer }),
    timeoutStore: new MemoryTimeoutStore({ clock }),
    roleScheduler: new MemoryRoleScheduler(),
    outbox: false,
    close: closeOnce(() => eventStreamer.close()),
  };
}
