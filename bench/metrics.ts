// Metrics for the benchmark: prometheus() on a registry of its own, as a service would register
// them, but never scraped, so what is measured is what stepwise's reporting costs each event.
import { Registry } from "prom-client";
import type { Metrics } from "stepwise";
import { prometheus } from "stepwise/prometheus";

/** Metrics into a fresh registry that nobody reads. */
export function benchMetrics(): Metrics {
  return prometheus({ registry: new Registry() });
}
