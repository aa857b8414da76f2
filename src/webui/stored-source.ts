import { statusListDiagram } from "../diagram.js";
import { InvalidOptionError, WorkflowNotFoundError } from "../errors.js";
import { readableRows } from "../readable-rows.js";
import type { Record, RecordStore } from "../record.js";
import { runControl } from "../run-control.js";
import { RunState } from "../runstate.js";
import { statusCounts } from "../status-counts.js";
import { storedWorkflowNames } from "../workflow-names.js";
import { servedObject } from "./served-object.js";
import type { Catalogue, ServedWorkflow, StatusSummary } from "./source.js";

const decoder = new TextDecoder("utf-8", { fatal: true });

/**
 * Serves workflows known only by name in a record store (the CLI over an existing database): the
 * names given, or every name with runs in the store, looked up on each request so new ones show.
 */
export function storedCatalogue(recordStore: RecordStore, names: readonly string[] | undefined): Catalogue {
  const listNames = names === undefined ? () => storedWorkflowNames(recordStore) : checkedNames(names);
  return {
    all: async () => (await listNames()).map((name) => storedWorkflow(recordStore, name)),
    workflow: async (name) => {
      if (!(await listNames()).includes(name)) throw new WorkflowNotFoundError(name);
      return storedWorkflow(recordStore, name);
    },
  };
}

function checkedNames(names: readonly string[]): () => Promise<string[]> {
  if (!Array.isArray(names) || names.length === 0 || !names.every((n) => typeof n === "string" && n !== "")) {
    throw new InvalidOptionError("names", 'webui: option "names" must list at least one workflow name (leave it out to serve every workflow in the store)');
  }
  const sorted = [...new Set(names)].sort();
  return async () => sorted;
}

function storedWorkflow(recordStore: RecordStore, name: string): ServedWorkflow {
  return {
    name,
    recordStore,
    control: runControl(recordStore, name),
    statuses: async (counts) => storedStatuses(recordStore, name, counts ?? (await statusCounts(recordStore, name)).counts),
    diagram: (statuses) => statusListDiagram(statuses),
    statusName,
    object: (record) => servedObject(record.object, (bytes) => JSON.parse(decoder.decode(bytes))),
  };
}

/** The name the run's writer stored with its status (a built workflow writes its graph's name). */
function statusName(record: Record): string {
  return record.meta.statusDescription || String(record.status);
}

/**
 * What the stored runs tell of the statuses that hold runs: each one's name from its newest run, and
 * as terminal those where a run completed (a store knows no transitions, so nothing better).
 */
async function storedStatuses(recordStore: RecordStore, workflowName: string, counts: ReadonlyMap<number, number>): Promise<StatusSummary[]> {
  const statuses = [...counts.keys()].sort((a, b) => a - b);
  return Promise.all(
    statuses.map(async (status) => {
      // A run that cannot be read tells nothing: the number stands for the name, as with no run.
      const [newest] = (await readableRows(recordStore.list({ workflowName, order: "desc", limit: 1, filter: { status: [status] } }))).rows;
      const completed = await readableRows(recordStore.list({ workflowName, limit: 1, filter: { status: [status], runState: [RunState.Completed] } }));
      return { status, name: newest ? statusName(newest) : String(status), terminal: completed.rows.length + completed.malformed.length > 0 };
    }),
  );
}
