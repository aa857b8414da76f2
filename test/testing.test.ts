import assert from "node:assert/strict";
import { test } from "node:test";
import { setImmediate as nextTurn } from "node:timers/promises";
import { Builder, InvalidStatusError, InvalidTransitionError, isControl, RunState, type Logger, type StepContext, type StepFn, type Workflow } from "stepwise";
import { memory, type MemoryAdapters } from "stepwise/memory";
import { awaitTimeoutInsert, FakeClock, newTestingRun, requireStatus, triggerCallbackOn, waitFor } from "stepwise/testing";
import { lineWorkflow, Status, type Item } from "./support/workflows.js";
import { quietLogger } from "./support/logger.js";

// Every wait below is bounded by the test's own timeout, so a lost event fails instead of hanging.
const bounded = { timeout: 10_000 };
const start = new Date("2026-01-01T00:00:00Z");

// ---------------------------------------------------------------- FakeClock

test("FakeClock reads the start time and moves only when advanced", () => {
  const clock = new FakeClock(start);
  assert.equal(clock.now().getTime(), start.getTime());
  assert.equal(clock.now().getTime(), start.getTime());
  clock.advance(1_500);
  assert.equal(clock.now().getTime(), start.getTime() + 1_500);
  clock.advance(60 * 60_000);
  assert.equal(clock.now().toISOString(), "2026-01-01T01:00:01.500Z");
});

test("FakeClock.advance fires the sleeps due by then, in due order, and not later ones", async () => {
  const clock = new FakeClock(start);
  const woke: string[] = [];
  const sleep = (ms: number, label: string) => clock.sleep(ms).then(() => woke.push(label));
  const due = [sleep(300, "300"), sleep(100, "100-first"), sleep(200, "200"), sleep(100, "100-second")];
  const later = sleep(500, "500");
  assert.equal(clock.sleepers, 5);

  clock.advance(350);
  await Promise.all(due);
  assert.deepEqual(woke, ["100-first", "100-second", "200", "300"]);
  assert.equal(clock.sleepers, 1);

  clock.advance(149);
  await nextTurn();
  assert.deepEqual(woke, ["100-first", "100-second", "200", "300"]);
  assert.equal(clock.sleepers, 1);

  clock.advance(1);
  await later;
  assert.deepEqual(woke, ["100-first", "100-second", "200", "300", "500"]);
  assert.equal(clock.now().getTime(), start.getTime() + 500);
});

test("FakeClock: an aborted sleep rejects with the signal's reason and no longer waits", async () => {
  const clock = new FakeClock(start);
  const controller = new AbortController();
  const sleeping = clock.sleep(1_000, controller.signal);
  assert.equal(clock.sleepers, 1);
  controller.abort(new Error("shutting down"));
  await assert.rejects(sleeping, /shutting down/);
  assert.equal(clock.sleepers, 0);
  clock.advance(2_000); // must not try to wake the aborted sleep

  const already = AbortSignal.abort(new Error("aborted before"));
  await assert.rejects(clock.sleep(10, already), /aborted before/);
  assert.equal(clock.sleepers, 0);
});

test("FakeClock.blockUntil resolves once that many sleeps are waiting", async () => {
  const clock = new FakeClock(start);
  let released = false;
  const blocked = clock.blockUntil(2).then(() => (released = true));
  void clock.sleep(10);
  await nextTurn();
  assert.equal(released, false);
  void clock.sleep(20);
  await blocked;
  assert.equal(clock.sleepers, 2);
  await clock.blockUntil(1); // already satisfied: resolves at once
  clock.advance(20);
  assert.equal(clock.sleepers, 0);
});

// ---------------------------------------------------------------- requireStatus, waitFor

test("requireStatus passes for the object at a status the run already passed through", bounded, async () => {
  const { wf } = lineWorkflow();
  await wf.run();
  try {
    const runId = await wf.trigger("rs-1", { initialValue: { id: "rs-1", count: 0 } });
    await wf.await("rs-1", runId, Status.Done);
    await requireStatus(wf, "rs-1", Status.Processed, { id: "rs-1", count: 1 });
    await requireStatus(wf, "rs-1", Status.Shipped, { id: "rs-1", count: 2 });
    await requireStatus(wf, "rs-1", Status.Done, { id: "rs-1", count: 3 });
  } finally {
    await wf.stop();
  }
});

test("requireStatus waits for a status the run has not reached yet", bounded, async () => {
  const { wf } = lineWorkflow();
  await wf.run();
  try {
    await wf.trigger("rs-2", { initialValue: { id: "rs-2", count: 0 } });
    await requireStatus(wf, "rs-2", Status.Done, { id: "rs-2", count: 3 });
  } finally {
    await wf.stop();
  }
});

test("requireStatus throws an AssertionError naming the status when the object differs", bounded, async () => {
  const { wf } = lineWorkflow();
  await wf.run();
  try {
    const runId = await wf.trigger("rs-3", { initialValue: { id: "rs-3", count: 0 } });
    await wf.await("rs-3", runId, Status.Done);
    await assert.rejects(requireStatus(wf, "rs-3", Status.Shipped, { id: "rs-3", count: 99 }), (err: unknown) => {
      assert.ok(err instanceof assert.AssertionError, `expected an AssertionError, got ${String(err)}`);
      assert.match(err.message, /Shipped/);
      assert.match(err.message, /rs-3/);
      return true;
    });
  } finally {
    await wf.stop();
  }
});

test("waitFor returns the latest run once it matches the predicate, even if triggered after the call", bounded, async () => {
  const { wf } = lineWorkflow();
  await wf.run();
  try {
    const waiting = waitFor(wf, "wf-1", (run) => run.status === Status.Done);
    const runId = await wf.trigger("wf-1", { initialValue: { id: "wf-1", count: 0 } });
    const run = await waiting;
    assert.equal(run.runId, runId);
    assert.equal(run.status, Status.Done);
    assert.equal(run.runState, RunState.Completed);
    assert.deepEqual(run.object, { id: "wf-1", count: 3 });
  } finally {
    await wf.stop();
  }
});

test("waitFor gives up after timeoutMs, naming the foreign id", bounded, async () => {
  const { wf } = lineWorkflow();
  await wf.run();
  try {
    await assert.rejects(waitFor(wf, "never-triggered", () => true, { timeoutMs: 20 }), /timed out after 20 ms.*"never-triggered"/);
  } finally {
    await wf.stop();
  }
});

// ---------------------------------------------------------------- callbacks

/**
 * Created → Processed (step), Processed → Shipped (callback adding a numeric payload to `count`,
 * rejecting anything else), Shipped → Done (callback). `calls` counts callback invocations.
 */
function callbackWorkflow(): { wf: Workflow<Item, Status>; adapters: MemoryAdapters; calls: { processed: number; shipped: number } } {
  const calls = { processed: 0, shipped: 0 };
  const b = new Builder<Item, Status>("testing-callbacks", Status);
  b.addStep(Status.Created, async () => Status.Processed, Status.Processed);
  b.addCallback(Status.Processed, async (run, payload) => {
    calls.processed++;
    run.object.count = -1; // a change made before rejecting must not be stored
    if (typeof payload !== "number") throw new TypeError(`payload must be a number, got ${typeof payload}`);
    run.object.count = payload;
    return Status.Shipped;
  }, Status.Shipped);
  b.addCallback(Status.Shipped, async () => {
    calls.shipped++;
    return Status.Done;
  }, Status.Done);
  const adapters = memory();
  return { wf: b.build(adapters), adapters, calls };
}

test("triggerCallbackOn waits for the status, then moves the run with the payload", bounded, async () => {
  const { wf } = callbackWorkflow();
  await wf.run();
  try {
    const runId = await wf.trigger("cb-1", { initialValue: { id: "cb-1", count: 0 } });
    await triggerCallbackOn(wf, "cb-1", runId, Status.Processed, 7);
    const shipped = await wf.await("cb-1", runId, Status.Shipped);
    assert.equal(shipped.object.count, 7);
    await triggerCallbackOn(wf, "cb-1", runId, Status.Shipped, null);
    const done = await wf.await("cb-1", runId, Status.Done);
    assert.equal(done.runState, RunState.Completed);
  } finally {
    await wf.stop();
  }
});

test("a callback that rejects its payload makes wf.callback reject with that error and leaves the run unchanged", bounded, async () => {
  const { wf, adapters, calls } = callbackWorkflow();
  await wf.run();
  try {
    const runId = await wf.trigger("cb-2", { initialValue: { id: "cb-2", count: 0 } });
    const waiting = await waitFor(wf, "cb-2", (run) => run.status === Status.Processed);
    const before = await adapters.recordStore.lookup(runId);
    await assert.rejects(wf.callback("cb-2", Status.Processed, "not a number"), (err: unknown) => {
      assert.ok(err instanceof TypeError);
      assert.equal(err.message, "payload must be a number, got string");
      return true;
    });
    assert.equal(calls.processed, 1);
    const after = await adapters.recordStore.lookup(runId);
    assert.deepEqual(after, before);
    assert.equal(after.meta.version, waiting.meta.version);
    assert.equal(after.status, Status.Processed);

    // The run still takes a good payload afterwards.
    await wf.callback("cb-2", Status.Processed, 3);
    assert.equal((await wf.await("cb-2", runId, Status.Shipped)).object.count, 3);
  } finally {
    await wf.stop();
  }
});

test("wf.callback for a run in another status changes nothing and does not call the callback", bounded, async () => {
  const { wf, adapters, calls } = callbackWorkflow();
  await wf.run();
  try {
    const runId = await wf.trigger("cb-3", { initialValue: { id: "cb-3", count: 0 } });
    await waitFor(wf, "cb-3", (run) => run.status === Status.Processed);
    const before = await adapters.recordStore.lookup(runId);
    await wf.callback("cb-3", Status.Shipped, "anything");
    assert.equal(calls.shipped, 0);
    assert.deepEqual(await adapters.recordStore.lookup(runId), before);
    assert.equal(adapters.recordStore.snapshots(runId).length, before.meta.version);
  } finally {
    await wf.stop();
  }
});

test("wf.callback for a status without callbacks throws InvalidStatusError naming the status", bounded, async () => {
  const { wf, adapters } = callbackWorkflow();
  await wf.run();
  try {
    const runId = await wf.trigger("cb-4", { initialValue: { id: "cb-4", count: 0 } });
    await waitFor(wf, "cb-4", (run) => run.status === Status.Processed);
    const before = await adapters.recordStore.lookup(runId);
    await assert.rejects(wf.callback("cb-4", Status.Created, 1), (err: unknown) => {
      assert.ok(err instanceof InvalidStatusError, `expected InvalidStatusError, got ${String(err)}`);
      assert.equal(err.code, "INVALID_STATUS");
      assert.equal(err.status, Status.Created);
      assert.match(err.message, /no callback for Created/);
      return true;
    });
    assert.deepEqual(await adapters.recordStore.lookup(runId), before);
  } finally {
    await wf.stop();
  }
});

test("a callback returning an undeclared status throws InvalidTransitionError and leaves the run unchanged", bounded, async () => {
  const b = new Builder<Item, Status>("testing-undeclared", Status);
  // The cast gets past the compiler, as plain JavaScript or a loose cast would.
  b.addCallback(Status.Created, async () => Status.Failed as number as Status.Done, Status.Done);
  const adapters = memory();
  const wf = b.build(adapters);
  await wf.run();
  try {
    const runId = await wf.trigger("cb-5", { initialValue: { id: "cb-5", count: 0 } });
    const before = await adapters.recordStore.lookup(runId);
    await assert.rejects(wf.callback("cb-5", Status.Created, null), (err: unknown) => {
      assert.ok(err instanceof InvalidTransitionError);
      assert.equal(err.code, "INVALID_TRANSITION");
      assert.match(err.message, /Created.*Failed/);
      return true;
    });
    assert.deepEqual(await adapters.recordStore.lookup(runId), before);
  } finally {
    await wf.stop();
  }
});

test("a callback that loses a race with another write retries from a fresh lookup instead of losing the payload", bounded, async () => {
  // SPEC §5: "Callbacks, timeouts and steps may race on one run; the loser retries from a fresh
  // lookup instead of overwriting." Here a pause and resume land while the callback runs.
  let entered!: () => void;
  const inCallback = new Promise<void>((resolve) => (entered = resolve));
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  let calls = 0;
  const b = new Builder<Item, Status>("testing-callback-race", Status);
  b.addCallback(Status.Created, async (run, payload) => {
    calls++;
    if (calls === 1) {
      entered();
      await gate;
    }
    run.object.count = Number(payload);
    return Status.Done;
  }, Status.Done);
  const adapters = memory();
  const wf = b.build({ ...adapters, pauseRetry: false });
  await wf.run();
  try {
    const runId = await wf.trigger("race-1", { initialValue: { id: "race-1", count: 0 } });
    const calling = wf.callback("race-1", Status.Created, 4);
    await inCallback;
    await wf.pause(runId, "a look");
    await wf.resume(runId); // back in Created and Running, so the callback still applies
    release();
    await calling;
    const after = await adapters.recordStore.lookup(runId);
    assert.deepEqual(
      { status: Status[after.status], runState: RunState[after.runState], count: (JSON.parse(new TextDecoder().decode(after.object)) as Item).count },
      { status: "Done", runState: "Completed", count: 4 },
      "wf.callback resolved, so its payload must have been applied",
    );
  } finally {
    release();
    await wf.stop();
  }
});

// ---------------------------------------------------------------- awaitTimeoutInsert

test("awaitTimeoutInsert finds a timeout inserted into the workflow's timeout store", bounded, async () => {
  const { wf, adapters } = callbackWorkflow();
  await wf.run();
  try {
    const runId = await wf.trigger("to-1", { initialValue: { id: "to-1", count: 0 } });
    const expireAt = new Date("2026-01-01T01:00:00Z");
    const found = awaitTimeoutInsert(wf, "to-1", runId, Status.Processed);
    // Decoys: another status of the same run, and another workflow.
    await adapters.timeoutStore.create({ workflowName: wf.name, foreignId: "to-1", runId, status: Status.Shipped, expireAt });
    await adapters.timeoutStore.create({ workflowName: "elsewhere", foreignId: "to-1", runId, status: Status.Processed, expireAt });
    await adapters.timeoutStore.create({ workflowName: wf.name, foreignId: "to-1", runId, status: Status.Processed, expireAt });
    const timeout = await found;
    assert.equal(timeout.workflowName, wf.name);
    assert.equal(timeout.runId, runId);
    assert.equal(timeout.foreignId, "to-1");
    assert.equal(timeout.status, Status.Processed);
    assert.equal(timeout.expireAt.getTime(), expireAt.getTime());
    assert.equal(timeout.completed, false);
  } finally {
    await wf.stop();
  }
});

test("awaitTimeoutInsert gives up after timeoutMs when no timeout is inserted for that status", bounded, async () => {
  const { wf, adapters } = callbackWorkflow();
  await wf.run();
  try {
    const runId = await wf.trigger("to-2", { initialValue: { id: "to-2", count: 0 } });
    await adapters.timeoutStore.create({ workflowName: wf.name, foreignId: "to-2", runId, status: Status.Shipped, expireAt: start });
    await assert.rejects(awaitTimeoutInsert(wf, "to-2", runId, Status.Processed, { timeoutMs: 20 }), /timed out after 20 ms.*Processed/);
  } finally {
    await wf.stop();
  }
});

test("awaitTimeoutInsert on a workflow built without a timeout store says so", async () => {
  const { eventStreamer, recordStore, roleScheduler } = memory();
  const b = new Builder<Item, Status>("no-timeout-store", Status);
  b.addStep(Status.Created, async () => Status.Done, Status.Done);
  const wf = b.build({ eventStreamer, recordStore, roleScheduler });
  await assert.rejects(awaitTimeoutInsert(wf, "x", "y", Status.Created), /"no-timeout-store" was built without a timeoutStore/);
});

// ---------------------------------------------------------------- newTestingRun

enum OrderStatus {
  Unknown = 0,
  Created = 1,
  Paid = 2,
  Failed = 3,
}
type Order = { id: string; amount: number; attempts: number; receipt?: string };

/** A step written as a user would, unit-tested below without a workflow. */
const charge: StepFn<Order, OrderStatus, OrderStatus.Paid | OrderStatus.Failed> = async (run, ctx) => {
  const { amount } = run.object;
  if (amount <= 0) return OrderStatus.Failed;
  if (amount > 1_000) return run.pause(`amount ${amount} needs review`);
  if (amount === 13) return run.cancel("customer cancelled");
  if (run.object.id.startsWith("test-")) return run.skip();
  if (run.object.attempts < 2) {
    run.object.attempts++;
    return run.saveAndRepeat();
  }
  run.object.receipt = `r-${run.object.id}-${ctx.clock.now().toISOString()}`;
  return OrderStatus.Paid;
};

const silent: Logger = quietLogger;
function stepContext(): StepContext {
  return { signal: new AbortController().signal, logger: silent, clock: new FakeClock(start) };
}

/** Runs `charge` on a testing run and records which hooks fired. */
async function chargeAlone(order: Order) {
  const seen: string[] = [];
  const run = newTestingRun<Order, OrderStatus>({ status: OrderStatus.Created }, order, {
    onPause: (reason) => seen.push(`pause: ${reason}`),
    onCancel: (reason) => seen.push(`cancel: ${reason}`),
    onSkip: () => seen.push("skip"),
    onSaveAndRepeat: () => seen.push("saveAndRepeat"),
  });
  const result = await charge(run, stepContext());
  return { run, result, seen };
}

test("newTestingRun: a step tested alone returns its status and changes the object", async () => {
  const { run, result, seen } = await chargeAlone({ id: "o-1", amount: 10, attempts: 2 });
  assert.equal(result, OrderStatus.Paid);
  assert.equal(run.object.receipt, "r-o-1-2026-01-01T00:00:00.000Z");
  assert.deepEqual(seen, []);
  assert.equal((await chargeAlone({ id: "o-2", amount: 0, attempts: 0 })).result, OrderStatus.Failed);
});

test("newTestingRun: the hooks see pause and cancel with their reasons", async () => {
  const paused = await chargeAlone({ id: "o-3", amount: 5_000, attempts: 0 });
  assert.deepEqual(paused.seen, ["pause: amount 5000 needs review"]);
  assert.ok(isControl(paused.result));
  assert.equal(paused.result.kind, "pause");
  assert.equal(paused.result.reason, "amount 5000 needs review");

  const cancelled = await chargeAlone({ id: "o-4", amount: 13, attempts: 0 });
  assert.deepEqual(cancelled.seen, ["cancel: customer cancelled"]);
  assert.ok(isControl(cancelled.result));
  assert.equal(cancelled.result.kind, "cancel");
  assert.equal(cancelled.result.reason, "customer cancelled");
});

test("newTestingRun: the hooks see skip and saveAndRepeat", async () => {
  const skipped = await chargeAlone({ id: "test-5", amount: 10, attempts: 0 });
  assert.deepEqual(skipped.seen, ["skip"]);
  assert.ok(isControl(skipped.result) && skipped.result.kind === "skip");

  const repeated = await chargeAlone({ id: "o-6", amount: 10, attempts: 0 });
  assert.deepEqual(repeated.seen, ["saveAndRepeat"]);
  assert.ok(isControl(repeated.result) && repeated.result.kind === "saveAndRepeat");
  assert.equal(repeated.run.object.attempts, 1);
});

test("newTestingRun fills plausible defaults and keeps the fields it is given", () => {
  const run = newTestingRun<Order, OrderStatus>({ status: OrderStatus.Paid, foreignId: "order-9", runState: RunState.Paused }, {
    id: "order-9",
    amount: 1,
    attempts: 0,
  });
  assert.equal(run.status, OrderStatus.Paid);
  assert.equal(run.foreignId, "order-9");
  assert.equal(run.runState, RunState.Paused);
  assert.match(run.runId, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.equal(run.meta.version, 1);
  assert.deepEqual(run.object, { id: "order-9", amount: 1, attempts: 0 });
  assert.equal(newTestingRun({ status: OrderStatus.Created }, {}).runState, RunState.Running);
});
