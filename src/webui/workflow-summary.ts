import { statusCounts } from "../status-counts.js";
import type { ServedWorkflow, StatusSummary } from "./source.js";

/** A workflow as `GET /api/workflows` lists it. */
export interface WorkflowSummary {
  name: string;
  statuses: StatusSummary[];
  /** Runs per status name; every known status is listed, 0 where it holds none. */
  counts: { [statusName: string]: number };
  /** Mermaid `stateDiagram-v2` text. */
  diagram: string;
}

/** The workflow's statuses, its runs per status and its diagram. */
export async function workflowSummary(workflow: ServedWorkflow): Promise<WorkflowSummary> {
  const { counts } = await statusCounts(workflow.recordStore, workflow.name);
  const statuses = await workflow.statuses(counts);
  // No prototype: a stored status may be named "__proto__".
  const byName: { [statusName: string]: number } = Object.create(null) as { [statusName: string]: number };
  for (const s of statuses) byName[s.name] = 0;
  for (const [status, count] of counts) {
    // A stored run in a status the graph lacks is still counted, under its number.
    const name = statuses.find((s) => s.status === status)?.name ?? String(status);
    byName[name] = (byName[name] ?? 0) + count;
  }
  return { name: workflow.name, statuses, counts: byName, diagram: workflow.diagram(statuses) };
}
