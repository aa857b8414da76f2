import type { RunState } from "./runstate.js";
import type { Headers } from "./event.js";

/** Bookkeeping stored with every run. `version` grows by one with every write. */
export interface RecordMeta {
  runStateReason: string;
  statusDescription: string;
  version: number;
  /**
   * The version of the workflow definition (`new Builder(name, statusEnum, { version })`) whose
   * shape the object and status have. Stores keep it; a row written before they did reads as 1.
   */
  workflowVersion: number;
  /** Where the run was triggered (the calling function, file, line and column) when the workflow was built with `debug: true`; else empty. */
  traceOrigin: string;
  /**
   * The W3C `traceparent` of the span that wrote this version, when the workflow was built with a
   * tracer: its event carries it on, so the run's next step continues the same trace.
   */
  traceParent?: string | undefined;
  /** The W3C `tracestate` beside `traceParent`, if the tracer keeps one. */
  traceState?: string | undefined;
}

/** The untyped, serialisable form of a run, as record stores keep it. */
export interface Record {
  workflowName: string;
  foreignId: string;
  runId: string;
  runState: RunState;
  status: number;
  object: Uint8Array;
  createdAt: Date;
  updatedAt: Date;
  meta: RecordMeta;
}

/** An event written with a record, waiting for the outbox process to send it. */
export interface OutboxEvent {
  id: string;
  workflowName: string;
  foreignId: string;
  type: number;
  headers: Headers;
  createdAt: Date;
}

/** Filters of {@link RecordStore.list}; each given one narrows the result. */
export interface RecordFilter {
  foreignId?: string[];
  status?: number[];
  runState?: RunState[];
  createdAfter?: Date;
  createdBefore?: Date;
}

/** A page of records, ordered by creation (ties by insertion order). */
export interface ListQuery {
  workflowName?: string;
  offset?: number;
  limit: number;
  order?: "asc" | "desc";
  filter?: RecordFilter;
}

/** Keeps runs. See `stepwise/adaptertest` for the behaviour every store must show. */
export interface RecordStore {
  /** Writes the record and its outbox event atomically; a compare-and-set on `meta.version`. */
  store(record: Record): Promise<void>;
  /**
   * Optional: stores records of different runs in one transaction, each with the version check of
   * `store`, all of them or none. Throws what `store` would throw for a record at fault, and then
   * writes nothing. Without it the engine calls `store` once per record.
   */
  storeMany?(records: readonly Record[]): Promise<void>;
  lookup(runId: string): Promise<Record>;
  /** Optional: the stored records of these runs, in any order; a run not found is left out. */
  lookupMany?(runIds: readonly string[]): Promise<Record[]>;
  latest(workflowName: string, foreignId: string): Promise<Record>;
  list(query: ListQuery): Promise<Record[]>;
  /**
   * Up to `limit` outbox events of the workflow, oldest first. Rows it cannot read are reported
   * with MalformedRowsError, which carries the events that were read, rather than failing the
   * whole listing: the outbox process sends those and sets the others aside.
   */
  listOutboxEvents(workflowName: string, limit: number): Promise<OutboxEvent[]>;
  deleteOutboxEvent(id: string): Promise<void>;
  /** Optional: deletes these outbox events in one go; ids not (or no longer) in the outbox are left alone. */
  deleteOutboxEvents?(ids: readonly string[]): Promise<void>;
  /** Optional: how many runs of the workflow each status holds (statuses without runs left out), for dashboards. */
  countByStatus?(workflowName: string): Promise<Map<number, number>>;
  /** Optional: the names of the workflows that have runs in the store, sorted. */
  workflowNames?(): Promise<string[]>;
}

/** A deep enough copy that neither side can change the other's record. */
export function copyRecord(record: Record): Record {
  // Spelled out rather than spread: stores copy on every read and write, and a literal of one
  // fixed shape is several times cheaper.
  const meta = record.meta;
  const copy: Record = {
    workflowName: record.workflowName,
    foreignId: record.foreignId,
    runId: record.runId,
    runState: record.runState,
    status: record.status,
    object: record.object.slice(),
    createdAt: new Date(record.createdAt.getTime()),
    updatedAt: new Date(record.updatedAt.getTime()),
    meta: {
      runStateReason: meta.runStateReason,
      statusDescription: meta.statusDescription,
      version: meta.version,
      workflowVersion: meta.workflowVersion,
      traceOrigin: meta.traceOrigin,
    },
  };
  withTrace(copy.meta, meta.traceParent, meta.traceState);
  return copy;
}

/**
 * Gives `meta` a trace context, where there is one (stores keep none as empty text). A record
 * without one leaves the keys out rather than holding undefined, so it reads back from every store
 * as it went in.
 */
export function withTrace(meta: RecordMeta, traceParent: string | undefined, traceState: string | undefined): RecordMeta {
  if (traceParent) meta.traceParent = traceParent;
  if (traceState) meta.traceState = traceState;
  return meta;
}
