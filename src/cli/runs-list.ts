import process from "node:process";
import { runsListOptions } from "../webui/params.js";
import { runList, type RunList, type RunSummary } from "../webui/run-summary.js";
import { storedCatalogue } from "../webui/stored-source.js";
import { withStore, type StoreOptions } from "./store.js";
import { table, type Column } from "./table.js";
import { chosenWorkflow } from "./workflow-choice.js";

/** Options of `stepwise runs list`: the web UI's `/api/runs` parameters, spelt as options. */
export interface RunsListOptions extends StoreOptions {
  workflow?: string;
  status?: string;
  runState?: string;
  foreignId?: string;
  limit?: string;
  cursor?: string;
  json?: boolean;
}

const columns: Column<RunSummary>[] = [
  { heading: "RUN ID", cell: (run) => run.runId },
  { heading: "FOREIGN ID", cell: (run) => run.foreignId },
  { heading: "STATUS", cell: (run) => run.statusName },
  { heading: "RUN STATE", cell: (run) => run.runStateName },
  { heading: "VERSION", cell: (run) => String(run.version) },
  { heading: "CREATED", cell: (run) => run.createdAt },
  { heading: "UPDATED", cell: (run) => run.updatedAt },
];

/** `stepwise runs list`: a page of runs, newest first, read and checked as the web UI reads `/api/runs`. */
export async function listRuns(options: RunsListOptions): Promise<void> {
  const page = await withStore(options, async (recordStore): Promise<RunList> => {
    const workflow = await chosenWorkflow(storedCatalogue(recordStore, undefined), options.workflow);
    const query = new URLSearchParams();
    const parameters = { status: options.status, runState: options.runState, foreignId: options.foreignId, limit: options.limit, cursor: options.cursor };
    for (const [name, value] of Object.entries(parameters)) if (value !== undefined) query.set(name, value);
    // Checked even over an empty store, so a mistake shows before there are runs to hide it.
    const listOptions = await runsListOptions(query, async () => (workflow ? workflow.statuses() : []));
    if (workflow === undefined) return { runs: [], nextCursor: null, malformed: [] };
    return runList(workflow, listOptions);
  });
  // On stderr whatever the format: the runs listed are not the whole page.
  for (const { runId, error } of page.malformed) process.stderr.write(`stepwise: run ${runId} cannot be read and is left out: ${error.message} [${error.code}]\n`);
  if (options.json) {
    process.stdout.write(JSON.stringify(page, null, 2) + "\n");
    return;
  }
  const lines = [page.runs.length === 0 ? "No runs." : table(columns, page.runs)];
  if (page.nextCursor !== null) lines.push("", `More runs: add --cursor ${page.nextCursor}`);
  process.stdout.write(lines.join("\n") + "\n");
}
