import type { StandardSchemaV1 } from "@standard-schema/spec";
import type { Clock } from "./clock.js";
import type { Codec } from "./codec.js";
import type { EventStreamer } from "./event.js";
import type { Graph } from "./graph.js";
import type { Logger } from "./logger.js";
import type { Metrics } from "./metrics.js";
import type { ProcessOptions } from "./options.js";
import type { Record, RecordStore } from "./record.js";
import type { RecentWrites } from "./recent-writes.js";
import type { RoleScheduler } from "./rolescheduler.js";
import type { TimeoutStore } from "./timeout-store.js";
import type { Tracer } from "./tracer.js";
import type { UpgradeDefinition } from "./upgrade.js";

/** What every part of a built workflow shares: its name, graph, adapters, codec, clock and logger. */
export interface WorkflowContext<T> {
  readonly name: string;
  readonly graph: Graph;
  /** The definition's version (`new Builder(name, statusEnum, { version })`), written into every run it creates or upgrades. */
  readonly version: number;
  /** How runs of older versions become runs of this one, by the version they come from. */
  readonly upgrades: ReadonlyMap<number, UpgradeDefinition>;
  readonly codec: Codec<T>;
  /** `Builder.withSchema`: validates every object before it is stored, and its output is what is stored. */
  readonly schema: StandardSchemaV1<unknown, T> | undefined;
  readonly clock: Clock;
  readonly logger: Logger;
  /** `build({ tracer })`: where spans go; undefined makes none. */
  readonly tracer: Tracer | undefined;
  /** `build({ metrics })`: where process and run-state metrics go; undefined reports none. */
  readonly metrics: Metrics | undefined;
  /** `build({ debug: true })`: processes log every event, skip, role change and back-off. */
  readonly debug: boolean;
  /** Reads a run without copies where the store keeps records as they are (the memory store; see `kept-record.ts`). */
  readonly readKept: ((runId: string) => Record | undefined) | undefined;
  /** `readKept` is there and the codec is the JSON one: objects are written as KeptRecords, never as bytes. */
  readonly keepsObjects: boolean;
  readonly eventStreamer: EventStreamer;
  readonly recordStore: RecordStore;
  readonly roleScheduler: RoleScheduler;
  readonly timeoutStore: TimeoutStore | undefined;
  readonly defaultOptions: ProcessOptions | undefined;
  /** The records this process wrote last, for awaiters. */
  readonly recentWrites: RecentWrites;
  /** Reads a run, sharing one `lookupMany` with the reads made while another is in flight, where the store has it. */
  lookup(runId: string): Promise<Record>;
  /** Stores a record (with its event) and wakes this process's outbox. */
  write(record: Record): Promise<void>;
  /** Stores records of different runs together (see `storeAll`): one outcome per record, in order. */
  writeAll(records: readonly Record[]): Promise<PromiseSettledResult<void>[]>;
}
