import { Counter, Gauge, type Registry } from "prom-client";
import { registeredWithState, type MetricConfig } from "./registered.js";

/**
 * One label set's value, kept by stepwise and handed to prom-client when the metric is scraped:
 * updating it is a field write, where each prom-client update hashes its labels again.
 */
export class Slot {
  /** A gauge's latest value (undefined until set); a counter's increments not yet handed over. */
  value: number | undefined;

  constructor(readonly labels: readonly string[]) {}
}

/** A metric whose values stepwise keeps in slots until a scrape, one slot per label set. */
export interface DeferredMetric {
  /** The slot of these label values; ask once and keep it. */
  slot(...labelValues: string[]): Slot;
}

/** A gauge reporting each slot's latest value when scraped. */
export function deferredGauge<L extends string>(registry: Registry, config: MetricConfig<L>): DeferredMetric {
  return deferred(registeredWithState(registry, Gauge, config, new Map<string, Slot>(), (gauge, slots) => {
    for (const slot of slots.values()) if (slot.value !== undefined) gauge.labels(...slot.labels).set(slot.value);
  }));
}

/** A counter adding each slot's increments when scraped. */
export function deferredCounter<L extends string>(registry: Registry, config: MetricConfig<L>): DeferredMetric {
  return deferred(registeredWithState(registry, Counter, config, new Map<string, Slot>(), (counter, slots) => {
    for (const slot of slots.values()) {
      if (!slot.value) continue;
      counter.labels(...slot.labels).inc(slot.value);
      slot.value = 0;
    }
  }));
}

/** Slots are shared by label values, so every build of a workflow adds to the same ones, and there are no more slots than series. */
function deferred(slots: Map<string, Slot>): DeferredMetric {
  return {
    slot(...labelValues) {
      const key = labelValues.join("\u0000");
      let slot = slots.get(key);
      if (slot === undefined) {
        slot = new Slot(labelValues);
        slots.set(key, slot);
      }
      return slot;
    },
  };
}
