import type { Record } from "../record.js";
import { runStateName, type RunState } from "../runstate.js";
import type { ServedWorkflow } from "./source.js";

/** The actions of `POST /api/runs/:workflow/:runId/:action`; `delete` asks for the run's data to be deleted. */
export type RunAction = "pause" | "resume" | "cancel" | "delete";

/** The answer of a run action: the run state the run is in now. */
export interface ActionResult {
  runState: RunState;
  runStateName: string;
}

const actions: ReadonlySet<string> = new Set<RunAction>(["pause", "resume", "cancel", "delete"]);

/** Whether a path segment names one of the run actions. */
export function isRunAction(name: string): name is RunAction {
  return actions.has(name);
}

/**
 * Changes the run's state with the rules of a built workflow: InvalidTransitionError when they
 * refuse (resuming a running run), RecordNotFoundError for a run not of this workflow. `resume`
 * takes no reason; the others default to saying the web UI did it.
 */
export async function runAction(workflow: ServedWorkflow, runId: string, action: RunAction, reason: string | undefined): Promise<ActionResult> {
  const why = reason ?? `${action} from the web UI`;
  const changed = await change(workflow, runId, action, why);
  return { runState: changed.runState, runStateName: runStateName(changed.runState) };
}

function change({ control }: ServedWorkflow, runId: string, action: RunAction, reason: string): Promise<Record> {
  switch (action) {
    case "pause":
      return control.pause(runId, reason);
    case "resume":
      return control.resume(runId);
    case "cancel":
      return control.cancel(runId, reason);
    case "delete":
      return control.deleteData(runId, reason);
  }
}
