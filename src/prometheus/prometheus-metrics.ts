import { Gauge, Histogram, register, type Registry } from "prom-client";
import type { Metrics, ProcessMetrics, TrackedWorkflow } from "../metrics.js";
import type { ProcessState } from "../process-state.js";
import { RunState } from "../runstate.js";
import type { SkipReason } from "../skip.js";
import { statusCounts } from "../status-counts.js";
import { deferredCounter, deferredGauge, type Slot } from "./deferred.js";
import { registered } from "./registered.js";
import { trackingGauge } from "./tracking-gauge.js";

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
  // Lag, alerts and counts are kept in slots and handed over at each scrape (see deferred.ts): the
  // per-event path writes a field. States change seldom, and a histogram takes no bulk update.
  const lag = deferredGauge(registry, {
    name: "workflow_process_lag_seconds",
    help: "Now minus the creation time of the event the process took last (the oldest of a batch), in seconds.",
    labelNames: byProcess,
  });
  const lagAlert = deferredGauge(registry, {
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
  const errors = deferredCounter(registry, {
    name: "workflow_process_error_count",
    help: "Events that failed (and back off), and failures of the process itself.",
    labelNames: byProcess,
  });
  const skipped = deferredCounter(registry, {
    name: "workflow_process_skipped_events_count",
    help: "Events let go without acting on them, by reason.",
    labelNames: [...byProcess, "reason"],
  });
  const runStateChanges = deferredCounter(registry, {
    name: "workflow_run_state_changes",
    help: "Stored changes of a run's state, from previous to current.",
    labelNames: ["workflow_name", "previous_run_state", "current_run_state"],
  });
  const runs = trackingGauge(
    registry,
    { name: "workflow_runs", help: "Runs of the workflow in each status, read from its record store when scraped.", labelNames: ["workflow_name", "status"] },
    readRunsPerStatus,
  );
  const outboxLag = trackingGauge(
    registry,
    {
      name: "workflow_outbox_lag_seconds",
      help: "Age of the oldest outbox event not yet sent, in seconds, read from the record store when scraped; 0 when none waits.",
      labelNames: ["workflow_name"],
    },
    readOutboxLag,
  );
  /** Per workflow, the run-state-change slots by `previous * stateCount + current`, found on first use. */
  const changeSlots = new Map<string, (Slot | undefined)[]>();

  return {
    process(workflowName, processName): ProcessMetrics {
      // Found once per process: the per-event path passes no labels.
      const lagSlot = lag.slot(workflowName, processName);
      const alertSlot = lagAlert.slot(workflowName, processName);
      const stateChild = states.labels(workflowName, processName);
      const latencyChild = latency.labels(workflowName, processName);
      const errorSlot = errors.slot(workflowName, processName);
      const skippedSlots = new Map<SkipReason, Slot>();
      return {
        state: (state: ProcessState) => stateChild.set(state),
        lag: (lagSeconds, alerting) => {
          lagSlot.value = lagSeconds;
          alertSlot.value = alerting ? 1 : 0;
        },
        handled: (seconds, count) => {
          for (let i = 0; i < count; i++) latencyChild.observe(seconds);
        },
        error: () => increment(errorSlot),
        skipped: (reason) => {
          let slot = skippedSlots.get(reason);
          if (slot === undefined) {
            slot = skipped.slot(workflowName, processName, reason);
            skippedSlots.set(reason, slot);
          }
          increment(slot);
        },
      };
    },
    runStateChanged(workflowName, previous, current) {
      let slots = changeSlots.get(workflowName);
      if (slots === undefined) {
        slots = [];
        changeSlots.set(workflowName, slots);
      }
      const index = previous * stateCount + current;
      let slot = slots[index];
      if (slot === undefined) {
        slot = runStateChanges.slot(workflowName, goRunStateName(previous), goRunStateName(current));
        slots[index] = slot;
      }
      increment(slot);
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

function increment(slot: Slot): void {
  slot.value = (slot.value ?? 0) + 1;
}

/** How many RunState values there are: the stride of the run-state-change slots. */
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

async function readRunsPerStatus(workflow: TrackedWorkflow): Promise<[string[], number][]> {
  const { counts } = await statusCounts(workflow.recordStore, workflow.name);
  return [...counts].map(([status, count]) => [[workflow.statusName(status)], count]);
}

async function readOutboxLag(workflow: TrackedWorkflow): Promise<[string[], number][]> {
  const [oldest] = await workflow.recordStore.listOutboxEvents(workflow.name, 1);
  const lagMs = oldest === undefined ? 0 : Math.max(0, workflow.clock.now().getTime() - oldest.createdAt.getTime());
  return [[[], lagMs / 1000]];
}
