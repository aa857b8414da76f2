import { writeFile } from "node:fs/promises";
import type { Graph } from "./graph.js";

/** Which way a Mermaid diagram flows: top to bottom, left to right, and their reverses. */
export type MermaidDirection = "TB" | "LR" | "RL" | "BT";

/**
 * The graph as Mermaid `stateDiagram-v2` text: `[*]` into the start, every transition, a choice
 * node where a status has several destinations, and terminal statuses into `[*]`.
 */
export function mermaid(graph: Graph, direction: MermaidDirection = "LR"): string {
  const id = (status: number) => graph.statusName(status).replace(/\W/g, "_");
  const lines = ["stateDiagram-v2", `\tdirection ${direction}`];
  if (graph.start !== undefined) lines.push(`\t[*] --> ${id(graph.start)}`);
  for (const status of graph.statuses) {
    const destinations = [...graph.destinations(status)];
    if (destinations.length === 1) {
      lines.push(`\t${id(status)} --> ${id(destinations[0] as number)}`);
    } else if (destinations.length > 1) {
      const choice = `${id(status)}_choice`;
      lines.push(`\tstate ${choice} <<choice>>`, `\t${id(status)} --> ${choice}`);
      for (const to of destinations) lines.push(`\t${choice} --> ${id(to)}`);
    }
  }
  for (const status of graph.statuses) {
    if (graph.isTerminal(status)) lines.push(`\t${id(status)} --> [*]`);
  }
  return lines.join("\n") + "\n";
}

/** Writes `wf.diagram(direction)` to `path`. */
export async function createDiagram(wf: { diagram(direction?: MermaidDirection): string }, path: string, direction: MermaidDirection = "LR"): Promise<void> {
  await writeFile(path, wf.diagram(direction));
}
