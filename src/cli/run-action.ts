import process from "node:process";
import { RecordNotFoundError } from "../errors.js";
import { runAction, type ActionResult, type RunAction } from "../webui/run-action.js";
import { storedCatalogue } from "../webui/stored-source.js";
import { withStore, type StoreOptions } from "./store.js";
import { chosenWorkflow } from "./workflow-choice.js";

/** Options of `stepwise runs pause|resume|cancel|delete`. */
export interface RunActionOptions extends StoreOptions {
  workflow?: string;
  /** Required by every action but resume, which takes none. */
  reason?: string;
  json?: boolean;
}

const done: { [action in RunAction]: string } = { pause: "Paused", resume: "Resumed", cancel: "Cancelled", delete: "Asked to delete the data of" };

/**
 * `stepwise runs <action> <runId>`: changes the run's state as the web UI's action route does,
 * through `runControl` with the rules of a built workflow; a change they refuse fails with
 * INVALID_TRANSITION and writes nothing.
 */
export async function actOnRun(action: RunAction, runId: string, options: RunActionOptions): Promise<void> {
  const result = await withStore(options, async (recordStore): Promise<ActionResult> => {
    const workflow = await chosenWorkflow(storedCatalogue(recordStore, undefined), options.workflow);
    if (workflow === undefined) throw new RecordNotFoundError(runId);
    return runAction(workflow, runId, action, options.reason);
  });
  const text = `${done[action]} run ${runId}: it is ${result.runStateName} now.`;
  process.stdout.write((options.json ? JSON.stringify(result, null, 2) : text) + "\n");
}
