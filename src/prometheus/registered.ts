import type { Counter, Gauge, Histogram, Registry } from "prom-client";
import { InvalidOptionError } from "../errors.js";

/** What stepwise asks prom-client for: a metric's name, help and label names. */
export interface MetricConfig<L extends string> {
  name: string;
  help: string;
  labelNames: readonly L[];
}

type MetricClass<M, L extends string> = new (config: MetricConfig<L> & { registers: Registry[]; collect?: () => void | Promise<void> }) => M;

/** Where stepwise keeps its own state on a metric it made, for every prometheus() on the registry to find. */
const stateKey = Symbol.for("stepwise.prometheus.state");

type Stateful<S> = { [stateKey]?: S };

/**
 * The metric registered under `config.name`, made and registered if there is none yet, so several
 * workflows and several builds of one workflow share it instead of failing as already registered.
 */
export function registered<M extends Counter<L> | Gauge<L> | Histogram<L>, L extends string>(
  registry: Registry,
  kind: MetricClass<M, L>,
  config: MetricConfig<L>,
): M {
  const existing = registry.getSingleMetric(config.name);
  if (existing === undefined) return new kind({ ...config, registers: [registry] });
  return checked(existing, kind, config);
}

/**
 * The state kept beside the metric registered under `config.name`: the one a previous call made, or
 * `state` with a new metric whose `collect` (run at each scrape) is handed it.
 */
export function registeredWithState<M extends Counter<L> | Gauge<L>, L extends string, S>(
  registry: Registry,
  kind: MetricClass<M, L>,
  config: MetricConfig<L>,
  state: S,
  collect: (metric: M, state: S) => void | Promise<void>,
): S {
  const existing = registry.getSingleMetric(config.name);
  if (existing !== undefined) {
    const kept = (checked(existing, kind, config) as M & Stateful<S>)[stateKey];
    if (kept === undefined) throw notOurs(config.name);
    return kept;
  }
  // Called at scrapes only, once the metric exists.
  const metric: M & Stateful<S> = new kind({ ...config, registers: [registry], collect: () => collect(metric, state) });
  metric[stateKey] = state;
  return state;
}

function checked<M, L extends string>(existing: object, kind: MetricClass<M, L>, config: MetricConfig<L>): M {
  // prom-client keeps the names it was made with on the metric, outside its typings.
  const labelNames = (existing as { labelNames?: readonly string[] }).labelNames ?? [];
  const sameLabels = labelNames.length === config.labelNames.length && labelNames.every((name, i) => name === config.labelNames[i]);
  if (!(existing instanceof kind) || !sameLabels) throw notOurs(config.name);
  return existing;
}

function notOurs(name: string): InvalidOptionError {
  return new InvalidOptionError("registry", `the registry holds a metric named ${name} that stepwise did not make; it cannot share the name`);
}
