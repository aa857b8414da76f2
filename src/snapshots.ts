import type { Record } from "./record.js";

/** A record store that keeps every version of a run (the memory store), so a run's history can be read. */
export interface Snapshotting {
  /** Every version stored for the run, oldest first; empty for an unknown run. */
  snapshots(runId: string): Record[];
}

/** Whether the store keeps every version of a run; only some do, so readers of history ask first. */
export function hasSnapshots(store: object): store is Snapshotting {
  return typeof (store as Partial<Snapshotting>).snapshots === "function";
}
