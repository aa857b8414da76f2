import { Gauge, type Registry } from "prom-client";
import type { TrackedWorkflow } from "../metrics.js";
import { registeredWithState, type MetricConfig } from "./registered.js";

/** Reads one workflow's values of a scraped gauge from its store: the label values after `workflow_name`, and the value. */
export type ReadTracked = (workflow: TrackedWorkflow) => Promise<[labels: string[], value: number][]>;

/** A gauge whose values are read from the tracked workflows' stores when it is scraped. */
export interface TrackingGauge {
  /** Adds (or, for a rebuilt workflow, replaces) the workflow; returns what takes it out again. */
  track(workflow: TrackedWorkflow): () => void;
}

/** A gauge labelled `workflow_name` first, valued by `read` for each tracked workflow at each scrape. */
export function trackingGauge<L extends string>(registry: Registry, config: MetricConfig<L>, read: ReadTracked): TrackingGauge {
  const tracked = registeredWithState(registry, Gauge, config, new Map<string, TrackedWorkflow>(), async (gauge, workflows) => {
    // Read everything first, then replace the values at once: a concurrent scrape never sees half.
    const values = await Promise.all([...workflows.values()].map(async (workflow) => ({ workflow, values: await readOrNone(read, workflow) })));
    gauge.reset();
    for (const { workflow, values: own } of values) {
      for (const [labels, value] of own) gauge.labels(workflow.name, ...labels).set(value);
    }
  });
  return {
    track(workflow) {
      tracked.set(workflow.name, workflow);
      return () => {
        // A rebuild that replaced this workflow keeps its place.
        if (tracked.get(workflow.name) === workflow) tracked.delete(workflow.name);
      };
    },
  };
}

/**
 * A store that cannot be read now (down, or closed under a workflow not yet stopped) leaves its
 * workflow out of this scrape rather than failing the whole scrape: the missing series shows it.
 */
async function readOrNone(read: ReadTracked, workflow: TrackedWorkflow): Promise<[string[], number][]> {
  try {
    return await read(workflow);
  } catch {
    return [];
  }
}
