import { InvalidOptionError } from "../errors.js";
import type { Catalogue, ServedWorkflow } from "../webui/source.js";

/**
 * The workflow a command is about: the one named with `--workflow`, or, when none is named, the
 * only one the store holds (undefined when it holds no runs at all). With several, the message
 * lists them, so the next try can name one.
 */
export async function chosenWorkflow(catalogue: Catalogue, name: string | undefined): Promise<ServedWorkflow | undefined> {
  if (name !== undefined) return catalogue.workflow(name);
  const all = await catalogue.all();
  if (all.length > 1) throw new InvalidOptionError("workflow", `the store holds ${all.length} workflows (${all.map((w) => w.name).join(", ")}): name one with --workflow`);
  return all[0];
}
