import { encodeJsonData } from "./json-data.js";
import type { Record, RecordMeta, RecordStore } from "./record.js";
import type { RunState } from "./runstate.js";

/** Every field of a {@link Record} but its object. */
export type RecordFields = Omit<Record, "object">;

/**
 * A record whose object is held as JSON data (see `toJsonData`) instead of bytes. A workflow on
 * the default JSON codec writes these to a store that keeps records as they are (the memory
 * store, see {@link keptRecords}) and reads them back, so a transition costs a copy of the data
 * instead of encoding and decoding it. `object` makes the bytes the JSON codec would have made,
 * on first read, for whoever reads it as a plain record.
 */
export class KeptRecord implements Record {
  workflowName: string;
  foreignId: string;
  runId: string;
  runState: RunState;
  status: number;
  createdAt: Date;
  updatedAt: Date;
  meta: RecordMeta;
  /** The object. Never changed, so records may share it: copy it before handing it to user code. */
  readonly data: unknown;
  #object: Uint8Array | undefined;

  constructor(fields: RecordFields, data: unknown) {
    this.workflowName = fields.workflowName;
    this.foreignId = fields.foreignId;
    this.runId = fields.runId;
    this.runState = fields.runState;
    this.status = fields.status;
    this.createdAt = fields.createdAt;
    this.updatedAt = fields.updatedAt;
    this.meta = fields.meta;
    this.data = data;
  }

  get object(): Uint8Array {
    return (this.#object ??= encodeJsonData(this.data));
  }
}

/**
 * Where a record store says it keeps the records it is given as they are, without a round trip
 * through bytes: only the memory store can. A workflow whose store has it (and has not had its
 * reading or writing methods replaced) reads runs through it, and on the default JSON codec
 * writes {@link KeptRecord}s.
 */
export const keptRecords: unique symbol = Symbol("stepwise.keptRecords");

/** What a record store that keeps records offers under {@link keptRecords}. */
export interface KeptRecordAccess {
  /**
   * The store's own methods that read and write runs. A store whose methods differ from these (a
   * wrapper that overrides one, a Proxy) may look at what passes through, so it gets plain records.
   */
  readonly methods: Pick<RecordStore, "store" | "storeMany" | "lookup" | "lookupMany">;
  /**
   * The latest version of the run, or undefined when there is none: a {@link KeptRecord} sharing
   * the stored data when it was stored as one, else a copy, as `lookup` returns it. Either way the
   * caller may change the record's fields, dates and meta.
   */
  read(runId: string): Record | undefined;
}

/** A record store with {@link keptRecords}. */
export interface KeepsRecords {
  readonly [keptRecords]: KeptRecordAccess;
}

/** How to read `store` without copies, when it keeps records and nothing wraps its methods. */
export function keptRecordReader(store: RecordStore): KeptRecordAccess["read"] | undefined {
  const access = (store as Partial<KeepsRecords>)[keptRecords];
  if (access === undefined) return undefined;
  const { methods } = access;
  const isOwn =
    store.store === methods.store && store.storeMany === methods.storeMany && store.lookup === methods.lookup && store.lookupMany === methods.lookupMany;
  return isOwn ? access.read : undefined;
}
