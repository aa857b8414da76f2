import type { Record, RecordStore } from "../record.js";
import type { RunControl } from "../run-control.js";
import type { ServedObject } from "./served-object.js";

/** One status of a workflow as `GET /api/workflows` lists it. */
export interface StatusSummary {
  status: number;
  name: string;
  /** Reaching it completes the run. */
  terminal: boolean;
}

/**
 * One workflow the web UI serves, however the UI knows it: a built workflow (its graph and codec)
 * or only a name in a record store (what the stored runs tell).
 */
export interface ServedWorkflow {
  readonly name: string;
  readonly recordStore: RecordStore;
  /** Pause, resume, cancel and delete, with the run-state rules; through the workflow where there is one, so its outbox wakes. */
  readonly control: RunControl;
  /**
   * Its statuses, in the graph's order or by number. `counts` (from `statusCounts`) saves a
   * workflow known only from its store a second count, as the statuses with runs are all it knows.
   */
  statuses(counts?: ReadonlyMap<number, number>): Promise<StatusSummary[]>;
  /** Mermaid `stateDiagram-v2` text; `statuses` are what {@link statuses} answered. */
  diagram(statuses: readonly StatusSummary[]): string;
  /** The name to show for a stored run's status. */
  statusName(record: Record): string;
  /** The run's object as the page shows it. */
  object(record: Record): ServedObject;
}

/** The workflows the web UI serves. */
export interface Catalogue {
  /** All of them, sorted by name. */
  all(): Promise<ServedWorkflow[]>;
  /** One of them; WorkflowNotFoundError for a name not served. */
  workflow(name: string): Promise<ServedWorkflow>;
}
