import assert from "node:assert/strict";
import { test } from "node:test";
import {
  Builder,
  durationTimer,
  RunState,
  type Control,
  type InvalidResultError,
  type InvalidStatusError,
  type WorkflowConflictError,
  type WorkflowNotRunningError,
} from "stepwise";
import { memory } from "stepwise/memory";
import { FakeClock, newTestingContext, newTestingRun, waitFor } from "stepwise/testing";
import { lineWorkflow, Status, type Item } from "./support/workflows.js";
import { errorsTo } from "./support/logger.js";

test("a step returning undefined or a hand-made control is an InvalidResultError naming the step", async () => {
  for (const [name, returned] of [
    ["forgot-return", undefined],
    ["hand-made-skip", { kind: "skip" }],
  ] as const) {
    const b = new Builder<Item, Status>(name, Status);
    // The cast stands for JavaScript callers, or a branch that forgot its return.
    b.addStep(Status.Created, (async () => returned) as unknown as () => Promise<Control>).withOptions({ pauseAfterErrCount: 1 });
    const errors: unknown[] = [];
    const wf = b.build({ ...memory(), pauseRetry: false, logger: errorsTo(errors) });
    try {
      await wf.run();
      await wf.trigger("t-1", { initialValue: { id: "t-1", count: 0 } });
      const paused = await waitFor(wf, "t-1", (r) => r.runState === RunState.Paused);
      const err = errors[0] as InvalidResultError;
      assert.equal(err.code, "INVALID_RESULT", name);
      assert.match(err.message, /^step Created returned /);
      assert.match(paused.meta.runStateReason, /step Created returned/);
    } finally {
      await wf.stop();
    }
  }
});

test("a step or timeout that only pauses or cancels needs no destination, and its status is not terminal", async () => {
  const clock = new FakeClock(new Date("2026-01-01T00:00:00Z"));
  const b = new Builder<Item, Status>("no-dummy-status", Status);
  b.addStep(Status.Created, async (run) => (run.object.count > 0 ? Status.Processed : run.skip()), Status.Processed);
  b.addTimeout(Status.Processed, durationTimer(1_000), async (run) => run.cancel("took too long"));
  const wf = b.build({ ...memory(), clock });
  try {
    assert.doesNotMatch(wf.diagram(), /Expired/);
    await wf.run();
    const runId = await wf.trigger("n-1", { initialValue: { id: "n-1", count: 1 } });
    const processed = await waitFor(wf, "n-1", (r) => r.status === Status.Processed);
    assert.equal(processed.runState, RunState.Running, "Processed has a timeout, so reaching it does not complete the run");
    await clock.blockUntil(1);
    clock.advance(1_000);
    const cancelled = await waitFor(wf, "n-1", (r) => r.runState === RunState.Cancelled);
    assert.equal(cancelled.meta.runStateReason, "took too long");
    assert.equal(cancelled.runId, runId);
  } finally {
    await wf.stop();
  }
});

test("trigger refuses to start a run at a terminal status", async () => {
  const { wf } = lineWorkflow();
  try {
    await wf.run();
    await assert.rejects(wf.trigger("t-2", { initialValue: { id: "t-2", count: 0 }, startAt: Status.Done }), (err: InvalidStatusError) => {
      return err.code === "INVALID_STATUS" && /Done is terminal/.test(err.message);
    });
  } finally {
    await wf.stop();
  }
});

test("a run that has not started can be cancelled", async () => {
  const b = new Builder<Item, Status>("cancel-initiated", Status);
  b.addCallback(Status.Created, async () => Status.Done, Status.Done);
  const wf = b.build(memory());
  try {
    await wf.run();
    const runId = await wf.trigger("t-3", { initialValue: { id: "t-3", count: 0 } });
    assert.equal((await wf.get(runId)).runState, RunState.Initiated);
    await wf.cancel(runId, "changed my mind");
    const run = await wf.get(runId);
    assert.equal(run.runState, RunState.Cancelled);
    assert.equal(run.meta.runStateReason, "changed my mind");
  } finally {
    await wf.stop();
  }
});

test("run() after stop() throws instead of doing nothing", async () => {
  const { wf } = lineWorkflow();
  await wf.run();
  await wf.stop();
  await assert.rejects(wf.run(), (err: WorkflowNotRunningError) => err.code === "WORKFLOW_NOT_RUNNING" && /stopped/.test(err.message));
});

test("run() refuses a workflow whose name another graph already uses on the same store", async () => {
  const adapters = memory();
  const first = new Builder<Item, Status>("shared-name", Status);
  first.addStep(Status.Created, async () => Status.Failed, Status.Failed);
  const wf1 = first.build(adapters);
  try {
    await wf1.run();
    const runId = await wf1.trigger("s-1", { initialValue: { id: "s-1", count: 0 } });
    await wf1.await("s-1", runId, Status.Failed);
  } finally {
    await wf1.stop();
  }
  const second = new Builder<Item, Status>("shared-name", Status);
  second.addStep(Status.Created, async () => Status.Done, Status.Done);
  const wf2 = second.build(adapters);
  try {
    await assert.rejects(wf2.run(), (err: WorkflowConflictError) => err.code === "WORKFLOW_CONFLICT" && err.status === Status.Failed);
  } finally {
    await wf2.stop();
  }
});

test("a clock given to build() reaches the memory adapters, so lag and timeouts follow it", async () => {
  const clock = new FakeClock(new Date("2030-01-01T00:00:00Z"));
  const b = new Builder<Item, Status>("one-clock", Status);
  b.addStep(Status.Created, async () => Status.Done, Status.Done).withOptions({ lag: 1_000 });
  const adapters = memory();
  const wf = b.build({ ...adapters, clock });
  try {
    await wf.run();
    await wf.trigger("k-1", { initialValue: { id: "k-1", count: 0 } });
    const [outboxed] = await adapters.recordStore.listOutboxEvents("one-clock", 10);
    if (outboxed) assert.equal(outboxed.createdAt.toISOString(), "2030-01-01T00:00:00.000Z");
    // The event is stamped by the FakeClock, so one second of it is all the lag takes.
    await clock.blockUntil(1);
    clock.advance(1_000);
    await waitFor(wf, "k-1", (r) => r.status === Status.Done);
  } finally {
    await wf.stop();
  }
});

test("newTestingContext gives a step function what it needs to run alone", async () => {
  const clock = new FakeClock(new Date("2026-05-01T00:00:00Z"));
  const ctx = newTestingContext({ clock });
  assert.equal(ctx.clock.now().toISOString(), "2026-05-01T00:00:00.000Z");
  assert.equal(ctx.signal.aborted, false);
  const step = async (run: { object: Item }, c: typeof ctx) => {
    run.object.count = c.clock.now().getUTCMonth();
    return Status.Processed;
  };
  const run = newTestingRun({ status: Status.Created }, { id: "u-1", count: 0 });
  assert.equal(await step(run, ctx), Status.Processed);
  assert.equal(run.object.count, 4);
  assert.equal(newTestingContext().clock.now().getTime(), 0);
});
