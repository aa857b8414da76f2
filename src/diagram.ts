import { writeFile } from "node:fs/promises";
import type { Graph } from "./graph.js";

/** Which way a Mermaid diagram flows: top to bottom, left to right, and their reverses. */
export type MermaidDirection = "TB" | "LR" | "RL" | "BT";

/**
 * The graph as Mermaid `stateDiagram-v2` text: `[*]` into the start, every transition, a choice
 * node where a status has several destinations, and terminal statuses into `[*]`.
 */
export function mermaid(graph: Graph, direction: MermaidDirection = "LR"): string {
  const id = (status: number) => mermaidId(graph.statusName(status));
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

/**
 * A diagram of statuses known only by name, without their transitions (the web UI over a store,
 * with no built workflow at hand): each status a state, terminal ones into `[*]`. State ids are
 * made from the names as {@link mermaid} makes them, so a reader finds a status in either diagram.
 */
export function statusListDiagram(statuses: readonly { name: string; terminal: boolean }[], direction: MermaidDirection = "LR"): string {
  const lines = ["stateDiagram-v2", `\tdirection ${direction}`];
  for (const { name, terminal } of statuses) {
    const id = mermaidId(name);
    lines.push(id === name ? `\t${id}` : `\tstate "${name.replace(/["\p{Cc}]/gu, " ")}" as ${id}`);
    if (terminal) lines.push(`\t${id} --> [*]`);
  }
  return lines.join("\n") + "\n";
}

/** Mermaid state ids are word characters only. */
function mermaidId(name: string): string {
  return name.replace(/\W/g, "_");
}

/** Writes `wf.diagram(direction)` to `path`. */
export async function createDiagram(wf: { diagram(direction?: MermaidDirection): string }, path: string, direction: MermaidDirection = "LR"): Promise<void> {
  await writeFile(path, wf.diagram(direction));
}
