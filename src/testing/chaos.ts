import type { Adapters } from "../adapters.js";
import type { EventStreamer } from "../event.js";
import type { RecordStore } from "../record.js";
import type { RoleScheduler } from "../rolescheduler.js";
import type { TimeoutStore } from "../timeout-store.js";
import { chaosEventStreamer } from "./chaos-event-streamer.js";
import { chaosRecordStore } from "./chaos-record-store.js";
import { chaosRoleScheduler } from "./chaos-role-scheduler.js";
import { chaosTimeoutStore } from "./chaos-timeout-store.js";
import { addCounts, noCounts, type ChaosCounts, type ChaosMethod, type ChaosOptions, type ChaosStats, type Chaotic } from "./chaos-schedule.js";
import { InvalidOptionError } from "../errors.js";

const parts = {
  eventStreamer: ["newSender", "newReceiver", "send", "recv", "ack"],
  recordStore: ["store", "storeMany", "lookup", "lookupMany", "latest", "list", "listOutboxEvents", "deleteOutboxEvent", "deleteOutboxEvents", "countByStatus", "workflowNames"],
  timeoutStore: ["create", "complete", "cancel", "list", "listValid"],
  roleScheduler: ["await"],
} as const satisfies { [part: string]: readonly ChaosMethod[] };

type Part = keyof typeof parts;

/** A part of the bundle, wrapped when the bundle has it. */
type Wrapped<P, I> = undefined extends P ? (I & Chaotic) | undefined : I & Chaotic;

/** What {@link chaos} returns: the bundle with its parts wrapped, and `stats()` over all of them. */
export type ChaosAdapters<A extends Adapters> = Omit<A, Part> &
  Chaotic & {
    eventStreamer: EventStreamer & Chaotic;
    recordStore: Wrapped<A["recordStore"], RecordStore>;
    timeoutStore: Wrapped<A["timeoutStore"], TimeoutStore>;
    roleScheduler: Wrapped<A["roleScheduler"], RoleScheduler>;
  };

/**
 * Wraps every part of an adapter bundle (`memory()`, `sqlite()`, …) with the same options: each
 * part gets its own seeded schedule (see {@link ChaosOptions}), and `stats()` adds them up, with
 * `byMethod` keyed `part.method` (`recordStore.store`, `eventStreamer.recv`). `only` names methods
 * of any part; `list` means the record store's and the timeout store's. Everything else in the
 * bundle (`close()`, `outbox`) stays as it was.
 *
 * @example
 * ```ts
 * const adapters = chaos(memory(), { seed: 42, failRate: 0.05, failAfterRate: 0.05, duplicateRate: 0.1, reorderRate: 0.1 });
 * const wf = b.build({ ...adapters, clock });
 * // … trigger runs and wait for them …
 * assert.ok(adapters.stats().failedAfter > 0);
 * ```
 */
export function chaos<A extends Adapters>(adapters: A, options: ChaosOptions): ChaosAdapters<A> {
  const known = new Set<string>(Object.values(parts).flat());
  const unknown = options.only?.filter((method) => !known.has(method)) ?? [];
  if (unknown.length > 0) throw new InvalidOptionError("only", `chaos only names methods no adapter has: ${unknown.join(", ")}`);
  const only = <M extends ChaosMethod>(part: readonly M[]): readonly M[] | undefined =>
    options.only?.filter((method): method is M => (part as readonly string[]).includes(method));
  const optionsFor = <M extends ChaosMethod>(part: readonly M[]): ChaosOptions<M> => ({ ...options, only: only(part) });
  const { eventStreamer, recordStore, timeoutStore, roleScheduler } = adapters;
  const wrapped = {
    eventStreamer: chaosEventStreamer(eventStreamer, optionsFor(parts.eventStreamer)),
    recordStore: recordStore && chaosRecordStore(recordStore, optionsFor(parts.recordStore)),
    timeoutStore: timeoutStore && chaosTimeoutStore(timeoutStore, optionsFor(parts.timeoutStore)),
    roleScheduler: roleScheduler && chaosRoleScheduler(roleScheduler, optionsFor(parts.roleScheduler)),
  };
  const stats = (): ChaosStats => {
    const total = noCounts();
    const byMethod: { [method: string]: ChaosCounts } = {};
    for (const [part, adapter] of Object.entries(wrapped)) {
      if (adapter === undefined) continue;
      const partStats = adapter.stats();
      for (const [method, counts] of Object.entries(partStats.byMethod)) byMethod[`${part}.${method}`] = counts;
      addCounts(total, partStats);
    }
    return { ...total, byMethod };
  };
  // The cast: TypeScript cannot follow which of A's parts are optional through the spread.
  return { ...adapters, ...wrapped, stats } as ChaosAdapters<A>;
}
