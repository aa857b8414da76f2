import process from "node:process";
import { RecordNotFoundError } from "../errors.js";
import { runDetail, workflowRun, type RunDetail } from "../webui/run-detail.js";
import { storedCatalogue } from "../webui/stored-source.js";
import { withStore, type StoreOptions } from "./store.js";
import { chosenWorkflow } from "./workflow-choice.js";

/** Options of `stepwise runs show`. */
export interface RunShowOptions extends StoreOptions {
  workflow?: string;
  json?: boolean;
}

/** `stepwise runs show <runId>`: one run with its object and meta, as the web UI's run detail. */
export async function showRun(runId: string, options: RunShowOptions): Promise<void> {
  const detail = await withStore(options, async (recordStore): Promise<RunDetail> => {
    const workflow = await chosenWorkflow(storedCatalogue(recordStore, undefined), options.workflow);
    if (workflow === undefined) throw new RecordNotFoundError(runId);
    return runDetail(workflow, await workflowRun(workflow, runId));
  });
  process.stdout.write((options.json ? JSON.stringify(detail, null, 2) : describe(detail)) + "\n");
}

/** The run for a reader: one field a line, then the object as indented JSON. */
function describe(run: RunDetail): string {
  const fields: [string, string][] = [
    ["Run", run.runId],
    ["Workflow", run.workflowName],
    ["Foreign id", run.foreignId],
    ["Status", `${run.statusName} (${run.status})`],
    ["Run state", `${run.runStateName} (${run.runState})`],
    ["Reason", run.meta.runStateReason],
    ["Version", String(run.version)],
    ["Created", run.createdAt],
    ["Updated", run.updatedAt],
    ["Trace origin", run.meta.traceOrigin],
  ];
  const width = Math.max(...fields.map(([name]) => name.length));
  const lines = fields.filter(([, value]) => value !== "").map(([name, value]) => `${`${name}:`.padEnd(width + 2)}${value}`);
  const object = run.objectEncoding === "json" ? JSON.stringify(run.object, null, 2) : `${String(run.object)} (base64: the object is not JSON)`;
  lines.push("Object:", object);
  return lines.join("\n");
}
