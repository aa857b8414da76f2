import assert from "node:assert/strict";
import { test } from "node:test";
import { Gauge, Registry, register } from "prom-client";
import { Builder, durationTimer, ProcessState, RunState, type RoleScheduler } from "stepwise";
import { memory, MemoryEventStreamer, MemoryRecordStore, MemoryRoleScheduler } from "stepwise/memory";
import { prometheus } from "stepwise/prometheus";
import { awaitTimeoutInsert, FakeClock, waitFor } from "stepwise/testing";
import { quietLogger } from "./support/logger.js";
import { until } from "./support/until.js";

enum Order {
  Unknown = 0,
  Created = 1,
  Paid = 2,
  Shipped = 3,
}
type Cart = { id: string };

type Labels = { [name: string]: string };

/** The value of the series of `name` with exactly `labels` (a histogram's `_count` or `_sum` included); undefined when absent. */
async function valueOf(registry: Registry, name: string, labels: Labels): Promise<number | undefined> {
  const metrics = await registry.getMetricsAsJSON();
  // A histogram's series carry its name plus a suffix; a counter's name may end in `_count` itself.
  const metric = metrics.find((m) => m.name === name) ?? metrics.find((m) => m.name === name.replace(/_(count|sum|bucket)$/, ""));
  const metricName = metric?.name;
  const value = metric?.values.find((v) => {
    const own = v as { metricName?: string; labels: Labels };
    if ((own.metricName ?? metricName) !== name) return false;
    const keys = Object.keys(own.labels).filter((k) => k !== "le");
    return keys.length === Object.keys(labels).length && keys.every((k) => String(own.labels[k]) === labels[k]);
  });
  return value?.value;
}

async function untilValue(registry: Registry, name: string, labels: Labels, expected: (v: number | undefined) => boolean): Promise<void> {
  await until(`${name} ${JSON.stringify(labels)}`, async () => expected(await valueOf(registry, name, labels)));
}

/**
 * Created → Paid → Shipped. The Created step skips "skip-*" runs, fails "fail-*" runs once, and
 * pauses "hold-*" runs the first time it sees them.
 */
function orderWorkflow(name: string) {
  const failedOnce = new Set<string>();
  const held = new Set<string>();
  const b = new Builder<Cart, Order>(name, Order);
  b.addStep(
    Order.Created,
    async (run) => {
      const { foreignId } = run;
      if (foreignId.startsWith("skip-")) return run.skip();
      if (foreignId.startsWith("fail-") && !failedOnce.has(foreignId)) {
        failedOnce.add(foreignId);
        throw new Error("card declined");
      }
      if (foreignId.startsWith("hold-") && !held.has(foreignId)) {
        held.add(foreignId);
        return run.pause("held for review");
      }
      return Order.Paid;
    },
    Order.Paid,
  );
  b.addStep(Order.Paid, async () => Order.Shipped, Order.Shipped);
  return b;
}

test("a workflow's runs show in every process metric, with the Go original's names and labels", async () => {
  const registry = new Registry();
  const clock = new FakeClock(new Date("2026-01-01T00:00:00Z"));
  const name = "metered-orders";
  const wf = orderWorkflow(name).build({
    ...memory({ clock }),
    clock,
    logger: quietLogger,
    metrics: prometheus({ registry }),
    defaultOptions: { lagAlert: 1_000, errBackOff: 5_000 },
  });
  const created = { workflow_name: name, process_name: "created-consumer-1-of-1" };
  try {
    await wf.run();
    await untilValue(registry, "workflow_process_states", created, (v) => v === ProcessState.Running);

    const okRun = await wf.trigger("ok-1", { initialValue: { id: "ok-1" } });
    await wf.await("ok-1", okRun, Order.Shipped);
    assert.equal(await valueOf(registry, "workflow_process_lag_seconds", created), 0);
    assert.equal(await valueOf(registry, "workflow_process_lag_alert", created), 0);

    await wf.trigger("skip-1", { initialValue: { id: "skip-1" } });
    await untilValue(registry, "workflow_process_skipped_events_count", { ...created, reason: "step_skipped" }, (v) => v === 1);

    // The failed event comes back after errBackOff on the workflow's clock: 5 s old, above lagAlert.
    const failRun = await wf.trigger("fail-1", { initialValue: { id: "fail-1" } });
    await untilValue(registry, "workflow_process_error_count", created, (v) => v === 1);
    await clock.blockUntil(1);
    clock.advance(5_000);
    await wf.await("fail-1", failRun, Order.Shipped);
    assert.equal(await valueOf(registry, "workflow_process_lag_seconds", created), 5);
    assert.equal(await valueOf(registry, "workflow_process_lag_alert", created), 1);

    const holdRun = await wf.trigger("hold-1", { initialValue: { id: "hold-1" } });
    await waitFor(wf, "hold-1", (run) => run.runState === RunState.Paused);
    await wf.resume(holdRun);
    await wf.await("hold-1", holdRun, Order.Shipped);
    const cancelRun = await wf.trigger("hold-2", { initialValue: { id: "hold-2" } });
    await waitFor(wf, "hold-2", (run) => run.runState === RunState.Paused);
    await wf.cancel(cancelRun, "customer left");
    await wf.deleteData(okRun, "gdpr request");
    await waitFor(wf, "ok-1", (run) => run.runState === RunState.DataDeleted);

    const changes = async (previous: string, current: string) =>
      valueOf(registry, "workflow_run_state_changes", { workflow_name: name, previous_run_state: previous, current_run_state: current });
    assert.equal(await changes("Initiated", "Running"), 2, "ok-1 and fail-1 left Created");
    assert.equal(await changes("Running", "Completed"), 3, "ok-1, fail-1 and hold-1 shipped");
    assert.equal(await changes("Initiated", "Paused"), 2, "hold-1 and hold-2 were held");
    assert.equal(await changes("Paused", "Running"), 1, "hold-1 was resumed");
    assert.equal(await changes("Paused", "Cancelled"), 1, "hold-2 was cancelled");
    assert.equal(await changes("Completed", "Requested Data Deleted"), 1);
    assert.equal(await changes("Requested Data Deleted", "Data Deleted"), 1);
    assert.equal(await changes("Running", "Running"), undefined, "a step that keeps the run Running changes no run state");

    // Each event the Created step took is one observation: ok-1, skip-1, fail-1 twice, hold-1 twice, hold-2.
    assert.ok(((await valueOf(registry, "workflow_process_latency_seconds_count", created)) ?? 0) >= 7);
    assert.equal(await valueOf(registry, "workflow_process_latency_seconds_count", { workflow_name: name, process_name: "paid-consumer-1-of-1" }), 3);
    assert.equal(await valueOf(registry, "workflow_process_error_count", created), 1);
    const deleteConsumer = { workflow_name: name, process_name: "delete-consumer" };
    assert.equal(await valueOf(registry, "workflow_process_states", deleteConsumer), ProcessState.Running);
    // The paused-run retry reads every run-state change and lets all but pauses go: at least the
    // completions of ok-1 and fail-1, which came before any pause.
    const retry = { workflow_name: name, process_name: "paused-records-retry-consumer", reason: "filtered_out" };
    await untilValue(registry, "workflow_process_skipped_events_count", retry, (v) => (v ?? 0) >= 2);

    const runs = (status: string) => valueOf(registry, "workflow_runs", { workflow_name: name, status });
    assert.equal(await runs("Shipped"), 3);
    assert.equal(await runs("Created"), 2, "skip-1 waits in Created and hold-2 was cancelled there");
  } finally {
    await wf.stop();
  }
  assert.equal(await valueOf(registry, "workflow_process_states", created), ProcessState.Shutdown);
  assert.equal(await valueOf(registry, "workflow_runs", { workflow_name: name, status: "Shipped" }), undefined, "a stopped workflow is no longer read");
});

test("the outbox's backlog shows as the age of its oldest unsent event", async () => {
  const registry = new Registry();
  const clock = new FakeClock(new Date("2026-01-01T00:00:00Z"));
  const name = "stuck-outbox";
  const roles = new MemoryRoleScheduler();
  // The outbox never gets its role, so what it should send piles up.
  const noOutbox: RoleScheduler = {
    await: (role, signal) =>
      role.endsWith("outbox-consumer")
        ? new Promise((_, reject) => signal.addEventListener("abort", () => reject(signal.reason as Error), { once: true }))
        : roles.await(role, signal),
  };
  const wf = orderWorkflow(name).build({
    eventStreamer: new MemoryEventStreamer({ clock }),
    recordStore: new MemoryRecordStore({ clock }),
    roleScheduler: noOutbox,
    clock,
    logger: quietLogger,
    metrics: prometheus({ registry }),
  });
  try {
    await wf.run();
    assert.equal(await valueOf(registry, "workflow_outbox_lag_seconds", { workflow_name: name }), 0);
    await wf.trigger("ok-1", { initialValue: { id: "ok-1" } });
    clock.advance(7_000);
    assert.equal(await valueOf(registry, "workflow_outbox_lag_seconds", { workflow_name: name }), 7);
    assert.equal(await valueOf(registry, "workflow_runs", { workflow_name: name, status: "Created" }), 1);
  } finally {
    await wf.stop();
  }
});

test("a timeout poller's lag is how long after its expiry a timeout fired", async () => {
  const registry = new Registry();
  const clock = new FakeClock(new Date("2026-01-01T00:00:00Z"));
  const name = "late-timeouts";
  const b = new Builder<Cart, Order>(name, Order);
  b.addTimeout(Order.Created, durationTimer(60_000), async () => Order.Paid, Order.Paid).withOptions({ pollingFrequency: 10_000 });
  const wf = b.build({ ...memory({ clock }), clock, logger: quietLogger, metrics: prometheus({ registry }) });
  try {
    await wf.run();
    const runId = await wf.trigger("late-1", { initialValue: { id: "late-1" } });
    await awaitTimeoutInsert(wf, "late-1", runId, Order.Created);
    // The poller looks every 10 s: a timeout due at 60 s is found at 70 s, 10 s late.
    clock.advance(70_000);
    await wf.await("late-1", runId, Order.Paid);
    const labels = { workflow_name: name, process_name: "created-timeout-consumer" };
    assert.equal(await valueOf(registry, "workflow_process_lag_seconds", labels), 10);
    assert.equal(await valueOf(registry, "workflow_process_lag_alert", labels), 0);
  } finally {
    await wf.stop();
  }
});

test("two workflows and a rebuilt one share a registry without 'already registered' errors", async () => {
  const registry = new Registry();
  const first = orderWorkflow("shared-a").build({ ...memory(), logger: quietLogger, metrics: prometheus({ registry }) });
  const second = orderWorkflow("shared-b").build({ ...memory(), logger: quietLogger, metrics: prometheus({ registry }) });
  const stores = memory();
  const before = orderWorkflow("shared-c").build({ ...stores, logger: quietLogger, metrics: prometheus({ registry }) });
  const rebuilt = orderWorkflow("shared-c").build({ ...stores, logger: quietLogger, metrics: prometheus({ registry }) });
  try {
    for (const wf of [first, second, rebuilt]) {
      await wf.run();
      const runId = await wf.trigger("ok-1", { initialValue: { id: "ok-1" } });
      await wf.await("ok-1", runId, Order.Shipped);
    }
    for (const workflowName of ["shared-a", "shared-b", "shared-c"]) {
      const labels = { workflow_name: workflowName, previous_run_state: "Running", current_run_state: "Completed" };
      assert.equal(await valueOf(registry, "workflow_run_state_changes", labels), 1, workflowName);
      assert.equal(await valueOf(registry, "workflow_runs", { workflow_name: workflowName, status: "Shipped" }), 1, `${workflowName}: one series, not one per build`);
    }
    // The first build of shared-c, stopped late, leaves the rebuild's series in place.
    await before.stop();
    assert.equal(await valueOf(registry, "workflow_runs", { workflow_name: "shared-c", status: "Shipped" }), 1);
    const text = await registry.metrics();
    assert.match(text, /^workflow_process_latency_seconds_count\{workflow_name="shared-b",process_name="paid-consumer-1-of-1"\} 1$/m);
  } finally {
    await Promise.all([first, second, before, rebuilt].map((wf) => wf.stop()));
  }
});

test("a registry holding another metric under one of the names is refused with a typed error", () => {
  const registry = new Registry();
  new Gauge({ name: "workflow_process_error_count", help: "someone else's", registers: [registry] });
  assert.throws(() => prometheus({ registry }), { code: "INVALID_OPTION", message: /workflow_process_error_count/ });
});

test("without the metrics option nothing is registered", async () => {
  const before = (await register.getMetricsAsJSON()).map((m) => m.name);
  const wf = orderWorkflow("unmetered").build({ ...memory(), logger: quietLogger });
  try {
    await wf.run();
    const runId = await wf.trigger("ok-1", { initialValue: { id: "ok-1" } });
    await wf.await("ok-1", runId, Order.Shipped);
  } finally {
    await wf.stop();
  }
  assert.deepEqual((await register.getMetricsAsJSON()).map((m) => m.name), before);
  assert.ok(!before.some((n) => n.startsWith("workflow_")));
});

test("prometheus() without a registry uses prom-client's global register", async () => {
  const wf = orderWorkflow("globally-metered").build({ ...memory(), logger: quietLogger, metrics: prometheus() });
  try {
    await wf.run();
    const runId = await wf.trigger("ok-1", { initialValue: { id: "ok-1" } });
    await wf.await("ok-1", runId, Order.Shipped);
    const labels = { workflow_name: "globally-metered", previous_run_state: "Running", current_run_state: "Completed" };
    assert.equal(await valueOf(register, "workflow_run_state_changes", labels), 1);
  } finally {
    await wf.stop();
    for (const m of await register.getMetricsAsJSON()) if (m.name.startsWith("workflow_")) register.removeSingleMetric(m.name);
  }
});
