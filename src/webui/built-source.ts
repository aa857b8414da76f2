import { InvalidOptionError, WorkflowNotFoundError } from "../errors.js";
import { runControl } from "../run-control.js";
import { workflowContext, type Workflow } from "../workflow.js";
import { servedObject } from "./served-object.js";
import type { Catalogue, ServedWorkflow } from "./source.js";

/**
 * A workflow built by stepwise, of any object and status type. Typed by the members the web UI
 * shows, since a `Workflow<Order, OrderStatus>` is no `Workflow<unknown, number>`; `webui()` refuses
 * anything that was not built by `Builder.build()`.
 */
export type AnyWorkflow = Pick<Workflow<unknown, number>, "name" | "diagram">;

/** Serves built workflows: statuses, names and transitions from their graphs, objects through their codecs. */
export function builtCatalogue(workflows: readonly AnyWorkflow[]): Catalogue {
  checkWorkflows(workflows);
  const served = new Map(workflows.map((wf) => [wf.name, builtWorkflow(wf)]));
  const all = [...served.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return {
    all: async () => all,
    workflow: async (name) => {
      const found = served.get(name);
      if (found === undefined) throw new WorkflowNotFoundError(name);
      return found;
    },
  };
}

function builtWorkflow(wf: AnyWorkflow): ServedWorkflow {
  const ctx = workflowContext(wf as Workflow<unknown, number>);
  const { graph, codec } = ctx;
  return {
    name: ctx.name,
    recordStore: ctx.recordStore,
    // The workflow's own write, so the outbox of a workflow running in this process sends the event at once.
    control: runControl({ lookup: (runId) => ctx.recordStore.lookup(runId), store: ctx.write }, ctx.name, { clock: ctx.clock }),
    statuses: async () => graph.statuses.map((status) => ({ status, name: graph.statusName(status), terminal: graph.isTerminal(status) })),
    diagram: () => wf.diagram(),
    statusName: (record) => graph.statusName(record.status),
    object: (record) => servedObject(record.object, (bytes) => codec.decode(bytes)),
  };
}

/** Refuses (InvalidOptionError) what is not a list of built workflows with distinct names. */
function checkWorkflows(workflows: readonly AnyWorkflow[]): void {
  if (!Array.isArray(workflows) || workflows.length === 0) {
    throw new InvalidOptionError("workflows", 'webui: option "workflows" must list at least one built workflow');
  }
  const seen = new Set<string>();
  for (const wf of workflows) {
    if (!isBuiltWorkflow(wf)) throw new InvalidOptionError("workflows", 'webui: option "workflows" holds something that Builder.build() did not make');
    if (seen.has(wf.name)) throw new InvalidOptionError("workflows", `webui: option "workflows" holds two workflows named "${wf.name}"`);
    seen.add(wf.name);
  }
}

function isBuiltWorkflow(wf: AnyWorkflow): boolean {
  try {
    workflowContext(wf as Workflow<unknown, number>);
    return true;
  } catch {
    return false;
  }
}
