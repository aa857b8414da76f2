import { Counter, Gauge, Histogram, register, type Registry } from "prom-client";
import { InvalidOptionError } from "../errors.js";
import type { Metrics, ProcessMetrics, TrackedWorkflow } from "../metrics.js";
import type { ProcessState } from "../process.js";
import { RunState } from "../runstate.js";
import type { SkipReason } from "../skip.js";
import { statusCounts } from "../status-counts.js";

/** Options of {@link prometheus}. */
export interface PrometheusOptions {
  /** Where the metrics are registered. Default: prom-client's global `register`. */
  registry?: Registry;
}

/**
 * {@link Metrics} on prom-client, with the Go original's names and labels:
 * `workflow_process_lag_seconds`, `workflow_process_lag_alert`, `workflow_process_states`,
 * `workflow_process_latency_seconds`, `workflow_process_error_count`,
 * `workflow_process_skipped_events_count`, `workflow_run_state_changes`; and, read from each
 * workflow's store when scraped, `workflow_runs` (runs per status) and
 * `workflow_outbox_lag_seconds` (age of the oldest event the outbox has not sent).
 *
 * Any number of workflows, and rebuilds of one workflow, may share a registry: a metric already
 * registered under its name is reused.
 *
 * @example
 * ```ts
 * import { prometheus } from "stepwise/prometheus";
 * const wf = b.build({ ...postgres({ pool }), metrics: prometheus() });
 * // serve `await register.metrics()` (content type `register.contentType`) on /metrics
 * ```
 */
export function prometheus(options: PrometheusOptions = {}): Metrics {
  const registry = options.registry ?? register;
  const byProcess = ["workflow_name", "process_name"] as const;
  const lag = registered(registry, Gauge, {
    name: "workflow_process_lag_seconds",
    help: "Now minus the creation time of the event the process took last (the oldest of a batch), in seconds.",
    labelNames: byProcess,
  });
  const lagAlert = registered(registry, Gauge, {
    name: "workflow_process_lag_alert",
    help: "1 while the process's lag is above its lagAlert option, else 0.",
    labelNames: byProcess,
  });
  const states = registered(registry, Gauge, {
    name: "workflow_process_states",
    help: "The process's state: 0 Unknown, 1 Shutdown, 2 Running, 3 Idle.",
    labelNames: byProcess,
  });
  const latency = registered(registry, Histogram, {
    name: "workflow_process_latency_seconds",
    help: "Time to handle one event, in seconds; each event of a batch counts the batch's time.",
    labelNames: byProcess,
  });
  const errors = registered(registry, Counter, {
    name: "workflow_process_error_count",
    help: "Events that failed (and back off), and failures of the process itself.",
    labelNames: byProcess,
  });
  const skipped = registered(registry, Counter, {
    name: "workflow_process_skipped_events_count",
    help: "Events let go without acting on them, by reason.",
    labelNames: [...byProcess, "reason"] as const,
  });
  const runStateChanges = registered(registry, Counter, {
    name: "workflow_run_state_changes",
    help: "Stored changes of a run's state, from previous to current.",
    labelNames: ["workflow_name", "previous_run_state", "current_run_state"] as const,
  });
  const runs = trackingGauge(registry, {
    name: "workflow_runs",
    help: "Runs of the workflow in each status, read from its record store when scraped.",
    labelNames: ["workflow_name", "status"],
    read: readRunsPerStatus,
  });
  const outboxLag = trackingGauge(registry, {
    name: "workflow_outbox_lag_seconds",
    help: "Age of the oldest outbox event not yet sent, in seconds, read from the record store when scraped; 0 when none waits.",
    labelNames: ["workflow_name"],
    read: readOutboxLag,
  });
  /** Per workflow, the run-state-change counters by `previous * stateCount + current`, made on first use. */
  const changeCounters = new Map<string, (Counter.Internal | undefined)[]>();

  return {
    process(workflowName, processName): ProcessMetrics {
      // Bound once per process: the per-event path passes no label objects of its own.
      const lagChild = lag.labels(workflowName, processName);
      const alertChild = lagAlert.labels(workflowName, processName);
      const stateChild = states.labels(workflowName, processName);
      const latencyChild = latency.labels(workflowName, processName);
      const errorChild = errors.labels(workflowName, processName);
      const skippedChildren = new Map<SkipReason, Counter.Internal>();
      let wasAlerting: boolean | undefined;
      return {
        state: (state: ProcessState) => stateChild.set(state),
        lag: (lagSeconds, alerting) => {
          lagChild.set(lagSeconds);
          // Each set hashes the labels again; the alert seldom changes, so it is set only when it does.
          if (alerting === wasAlerting) return;
          wasAlerting = alerting;
          alertChild.set(alerting ? 1 : 0);
        },
        handled: (seconds, count) => {
          for (let i = 0; i < count; i++) latencyChild.observe(seconds);
        },
        error: () => errorChild.inc(),
        skipped: (reason) => {
          let child = skippedChildren.get(reason);
          if (child === undefined) {
            child = skipped.labels(workflowName, processName, reason);
            skippedChildren.set(reason, child);
          }
          child.inc();
        },
      };
    },
    runStateChanged(workflowName, previous, current) {
      let counters = changeCounters.get(workflowName);
      if (counters === undefined) {
        counters = [];
        changeCounters.set(workflowName, counters);
      }
      const index = previous * stateCount + current;
      let child = counters[index];
      if (child === undefined) {
        child = runStateChanges.labels(workflowName, goRunStateName(previous), goRunStateName(current));
        counters[index] = child;
      }
      child.inc();
    },
    track(workflow) {
      const untrackRuns = runs.track(workflow);
      const untrackOutbox = workflow.outbox ? outboxLag.track(workflow) : undefined;
      return () => {
        untrackRuns();
        untrackOutbox?.();
      };
    },
  };
}

/** How many RunState values there are: the stride of the run-state-change counters. */
const stateCount = 8;

/** The run state as the Go original names it in `workflow_run_state_changes`. */
function goRunStateName(state: RunState): string {
  switch (state) {
    case RunState.DataDeleted:
      return "Data Deleted";
    case RunState.RequestedDataDeleted:
      return "Requested Data Deleted";
    default:
      return RunState[state] ?? String(state);
  }
}

type MetricClass<M, C> = new (config: C) => M;

/**
 * The metric registered under `config.name`, made and registered if there is none yet, so several
 * workflows and several builds of one workflow share it instead of failing as already registered.
 */
function registered<M extends Counter<L> | Gauge<L> | Histogram<L>, L extends string>(
  registry: Registry,
  kind: MetricClass<M, { name: string; help: string; labelNames: readonly L[]; registers: Registry[] }>,
  config: { name: string; help: string; labelNames: readonly L[] },
): M {
  const existing = registry.getSingleMetric(config.name);
  if (existing === undefined) return new kind({ ...config, registers: [registry] });
  if (!(existing instanceof kind) || !sameLabels(existing, config.labelNames)) {
    throw new InvalidOptionError("registry", `the registry holds a metric named ${config.name} that stepwise did not make; it cannot share the name`);
  }
  return existing;
}

function sameLabels(metric: object, labelNames: readonly string[]): boolean {
  // prom-client keeps the names it was made with on the metric, outside its typings.
  const own = (metric as { labelNames?: readonly string[] }).labelNames ?? [];
  return own.length === labelNames.length && own.every((name, i) => name === labelNames[i]);
}

/** Reads one workflow's values of a scraped gauge from its store: label values (beyond `workflow_name`) and value. */
type ReadTracked = (workflow: TrackedWorkflow) => Promise<[labels: string[], value: number][]>;

/** A gauge whose values are read from the tracked workflows' stores when it is scraped. */
interface TrackingGauge {
  /** Adds (or, for a rebuilt workflow, replaces) the workflow; returns what takes it out again. */
  track(workflow: TrackedWorkflow): () => void;
}

/** The key under which a scraped gauge keeps its tracked workflows, shared by every prometheus() on a registry. */
const trackedKey = Symbol.for("stepwise.prometheus.tracked");

type TrackedHolder = { [trackedKey]?: Map<string, TrackedWorkflow> };

function trackingGauge(
  registry: Registry,
  config: { name: string; help: string; labelNames: string[]; read: ReadTracked },
): TrackingGauge {
  let gauge: Gauge & TrackedHolder;
  const existing = registry.getSingleMetric(config.name) as (Gauge & TrackedHolder) | undefined;
  if (existing === undefined) {
    const tracked = new Map<string, TrackedWorkflow>();
    gauge = new Gauge({
      name: config.name,
      help: config.help,
      labelNames: config.labelNames,
      registers: [registry],
      async collect() {
        // Read everything first, then replace the values at once: a concurrent scrape never sees half.
        const read = await Promise.all([...tracked.values()].map(async (workflow) => ({ workflow, values: await readOrNone(config.read, workflow) })));
        this.reset();
        for (const { workflow, values } of read) {
          for (const [labels, value] of values) this.labels(workflow.name, ...labels).set(value);
        }
      },
    });
    gauge[trackedKey] = tracked;
  } else {
    gauge = existing;
  }
  const tracked = gauge[trackedKey];
  if (tracked === undefined) {
    throw new InvalidOptionError("registry", `the registry holds a metric named ${config.name} that stepwise did not make; it cannot share the name`);
  }
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

async function readRunsPerStatus(workflow: TrackedWorkflow): Promise<[string[], number][]> {
  const { counts } = await statusCounts(workflow.recordStore, workflow.name);
  return [...counts].map(([status, count]) => [[workflow.statusName(status)], count]);
}

async function readOutboxLag(workflow: TrackedWorkflow): Promise<[string[], number][]> {
  const [oldest] = await workflow.recordStore.listOutboxEvents(workflow.name, 1);
  const lagMs = oldest === undefined ? 0 : Math.max(0, workflow.clock.now().getTime() - oldest.createdAt.getTime());
  return [[[], lagMs / 1000]];
}
