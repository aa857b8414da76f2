import assert from "node:assert/strict";
import { test } from "node:test";
import {
  Builder,
  canChangeRunState,
  InvalidTransitionError,
  isFinished,
  isStopped,
  RecordNotFoundError,
  RunState,
  type Record,
  type Workflow,
} from "stepwise";
import { memory, type MemoryAdapters } from "stepwise/memory";
import { waitFor } from "stepwise/testing";
import { Status, type Item } from "./support/workflows.js";

// Every wait below is bounded by the test's own timeout, so a lost event fails instead of hanging.
const bounded = { timeout: 10_000 };

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/**
 * Created → Processed → Shipped → Done, where a run waits in Processed for a callback that adds
 * its payload to `count`. Paused runs are never resumed automatically, so only the test resumes.
 */
function callbackWorkflow(): { wf: Workflow<Item, Status>; adapters: MemoryAdapters } {
  const b = new Builder<Item, Status>("runstate-callback", Status);
  b.addStep(Status.Created, async (run) => {
    run.object.count++;
    return Status.Processed;
  }, Status.Processed);
  b.addCallback(Status.Processed, async (run, payload) => {
    run.object.count += Number(payload);
    return Status.Shipped;
  }, Status.Shipped);
  b.addStep(Status.Shipped, async () => Status.Done, Status.Done);
  const adapters = memory();
  return { wf: b.build({ ...adapters, pauseRetry: false }), adapters };
}

/** Triggers a run and waits until it sits in Processed, Running, waiting for its callback. */
async function runWaitingForCallback(wf: Workflow<Item, Status>, foreignId: string): Promise<string> {
  const runId = await wf.trigger(foreignId, { initialValue: { id: foreignId, count: 0 } });
  await waitFor(wf, foreignId, (run) => run.runId === runId && run.status === Status.Processed);
  return runId;
}

/** Triggers a run and waits until it completes in Done. */
async function completedRun(wf: Workflow<Item, Status>, foreignId: string): Promise<string> {
  const runId = await runWaitingForCallback(wf, foreignId);
  await wf.callback(foreignId, Status.Processed, 1);
  const done = await wf.await(foreignId, runId, Status.Done);
  assert.equal(done.runState, RunState.Completed);
  return runId;
}

function isInvalidTransition(from: string, to: string) {
  return (err: unknown) => {
    assert.ok(err instanceof InvalidTransitionError, `expected InvalidTransitionError, got ${String(err)}`);
    assert.equal(err.code, "INVALID_TRANSITION");
    assert.equal(err.from, from);
    assert.equal(err.to, to);
    return true;
  };
}

test("pausing an initiated run drops the result of its step in flight, and resume runs the step again to completion", bounded, async () => {
  const entered = deferred();
  const gate = deferred();
  let createdCalls = 0;
  const b = new Builder<Item, Status>("runstate-gated", Status);
  b.addStep(Status.Created, async (run) => {
    createdCalls++;
    if (createdCalls === 1) {
      entered.resolve();
      await gate.promise;
    }
    run.object.count++;
    return Status.Processed;
  }, Status.Processed);
  b.addStep(Status.Processed, async (run) => {
    run.object.count += 10;
    return Status.Done;
  }, Status.Done);
  const adapters = memory();
  const wf = b.build({ ...adapters, pauseRetry: false });
  await wf.run();
  try {
    const runId = await wf.trigger("g-1", { initialValue: { id: "g-1", count: 0 } });
    await entered.promise;
    assert.equal((await adapters.recordStore.lookup(runId)).runState, RunState.Initiated);

    await wf.pause(runId, "operator looks at it");
    const paused = await adapters.recordStore.lookup(runId);
    assert.equal(paused.runState, RunState.Paused);
    assert.equal(paused.status, Status.Created);
    assert.equal(paused.meta.runStateReason, "operator looks at it");
    assert.equal(paused.meta.version, 2);

    gate.resolve(); // the step in flight now returns Processed for a run that was paused meanwhile
    await wf.resume(runId);
    const done = await wf.await("g-1", runId, Status.Done);
    assert.equal(done.runState, RunState.Completed);
    assert.deepEqual(done.object, { id: "g-1", count: 11 });
    assert.equal(createdCalls, 2);
    // Nothing was written between the pause and the resume: the paused run never left Created.
    assert.deepEqual(
      adapters.recordStore.snapshots(runId).map((r) => [r.meta.version, Status[r.status], RunState[r.runState]]),
      [
        [1, "Created", "Initiated"],
        [2, "Created", "Paused"],
        [3, "Created", "Running"],
        [4, "Processed", "Running"],
        [5, "Done", "Completed"],
      ],
    );
  } finally {
    gate.resolve();
    await wf.stop();
  }
});

test("a paused run ignores its callbacks until it is resumed, then completes", bounded, async () => {
  const { wf, adapters } = callbackWorkflow();
  await wf.run();
  try {
    const runId = await runWaitingForCallback(wf, "p-1");
    assert.equal((await adapters.recordStore.lookup(runId)).runState, RunState.Running);

    await wf.pause(runId, "hold on");
    const paused = await adapters.recordStore.lookup(runId);
    assert.equal(paused.runState, RunState.Paused);
    assert.equal(paused.meta.runStateReason, "hold on");

    await wf.callback("p-1", Status.Processed, 5);
    assert.deepEqual(await adapters.recordStore.lookup(runId), paused);

    await wf.resume(runId);
    const resumed = await adapters.recordStore.lookup(runId);
    assert.equal(resumed.runState, RunState.Running);
    assert.equal(resumed.status, Status.Processed);
    assert.equal(resumed.meta.version, paused.meta.version + 1);

    await wf.callback("p-1", Status.Processed, 5);
    const done = await wf.await("p-1", runId, Status.Done);
    assert.equal(done.runState, RunState.Completed);
    assert.equal(done.object.count, 6);
  } finally {
    await wf.stop();
  }
});

test("cancelling a paused run finishes it as Cancelled with the reason, and frees its foreign id", bounded, async () => {
  const { wf, adapters } = callbackWorkflow();
  await wf.run();
  try {
    const runId = await runWaitingForCallback(wf, "c-1");
    await wf.pause(runId, "suspicious");
    await wf.cancel(runId, "fraud confirmed");
    const cancelled = await adapters.recordStore.lookup(runId);
    assert.equal(cancelled.runState, RunState.Cancelled);
    assert.equal(cancelled.meta.runStateReason, "fraud confirmed");
    assert.equal(cancelled.status, Status.Processed);

    await wf.callback("c-1", Status.Processed, 1);
    assert.deepEqual(await adapters.recordStore.lookup(runId), cancelled);

    const next = await wf.trigger("c-1", { initialValue: { id: "c-1", count: 0 } });
    assert.notEqual(next, runId);
  } finally {
    await wf.stop();
  }
});

test("cancelling a running run finishes it as Cancelled with the reason", bounded, async () => {
  const { wf, adapters } = callbackWorkflow();
  await wf.run();
  try {
    const runId = await runWaitingForCallback(wf, "c-2");
    await wf.cancel(runId, "customer withdrew");
    const cancelled = await adapters.recordStore.lookup(runId);
    assert.equal(cancelled.runState, RunState.Cancelled);
    assert.equal(cancelled.meta.runStateReason, "customer withdrew");
  } finally {
    await wf.stop();
  }
});

test("pause, cancel and resume of a completed run throw InvalidTransitionError and leave it unchanged", bounded, async () => {
  const { wf, adapters } = callbackWorkflow();
  await wf.run();
  try {
    const runId = await completedRun(wf, "done-1");
    const before = await adapters.recordStore.lookup(runId);
    await assert.rejects(wf.pause(runId, "too late"), isInvalidTransition("Completed", "Paused"));
    await assert.rejects(wf.cancel(runId, "too late"), isInvalidTransition("Completed", "Cancelled"));
    await assert.rejects(wf.resume(runId), isInvalidTransition("Completed", "Running"));
    assert.deepEqual(await adapters.recordStore.lookup(runId), before);
    assert.equal(adapters.recordStore.snapshots(runId).length, before.meta.version);
  } finally {
    await wf.stop();
  }
});

test("resume of a running run throws InvalidTransitionError and leaves it unchanged", bounded, async () => {
  const { wf, adapters } = callbackWorkflow();
  await wf.run();
  try {
    const runId = await runWaitingForCallback(wf, "r-1");
    const before = await adapters.recordStore.lookup(runId);
    await assert.rejects(wf.resume(runId), isInvalidTransition("Running", "Running"));
    assert.deepEqual(await adapters.recordStore.lookup(runId), before);
  } finally {
    await wf.stop();
  }
});

test("pause of a paused run throws InvalidTransitionError", bounded, async () => {
  const { wf, adapters } = callbackWorkflow();
  await wf.run();
  try {
    const runId = await runWaitingForCallback(wf, "pp-1");
    await wf.pause(runId, "first");
    const before = await adapters.recordStore.lookup(runId);
    await assert.rejects(wf.pause(runId, "second"), isInvalidTransition("Paused", "Paused"));
    assert.deepEqual(await adapters.recordStore.lookup(runId), before);
  } finally {
    await wf.stop();
  }
});

test("deleteData of a running run throws InvalidTransitionError and leaves it unchanged", bounded, async () => {
  const { wf, adapters } = callbackWorkflow();
  await wf.run();
  try {
    const runId = await runWaitingForCallback(wf, "d-1");
    const before = await adapters.recordStore.lookup(runId);
    await assert.rejects(wf.deleteData(runId, "gdpr"), isInvalidTransition("Running", "RequestedDataDeleted"));
    assert.deepEqual(await adapters.recordStore.lookup(runId), before);
  } finally {
    await wf.stop();
  }
});

test("deleteData of a completed or cancelled run requests deletion with the reason", bounded, async () => {
  const { wf, adapters } = callbackWorkflow();
  await wf.run();
  try {
    const completed = await completedRun(wf, "d-2");
    const cancelled = await runWaitingForCallback(wf, "d-3");
    await wf.cancel(cancelled, "abandoned");
    for (const runId of [completed, cancelled]) {
      const before = await adapters.recordStore.lookup(runId);
      await wf.deleteData(runId, "gdpr request 42");
      // The delete process may already have moved it on, so look at the version deleteData wrote.
      const requested: Record | undefined = adapters.recordStore.snapshots(runId)[before.meta.version];
      assert.ok(requested, "deleteData wrote a new version");
      assert.equal(requested.runState, RunState.RequestedDataDeleted);
      assert.equal(requested.meta.runStateReason, "gdpr request 42");
      assert.equal(requested.meta.version, before.meta.version + 1);
      assert.equal(requested.status, before.status);
    }
  } finally {
    await wf.stop();
  }
});

test("pause, resume, cancel and deleteData of an unknown run id throw RecordNotFoundError", bounded, async () => {
  const { wf } = callbackWorkflow();
  await wf.run();
  try {
    const unknown = "00000000-0000-4000-8000-000000000000";
    const isNotFound = (err: unknown) => {
      assert.ok(err instanceof RecordNotFoundError, `expected RecordNotFoundError, got ${String(err)}`);
      assert.equal(err.code, "RECORD_NOT_FOUND");
      assert.equal(err.runId, unknown);
      return true;
    };
    await assert.rejects(wf.pause(unknown, "x"), isNotFound);
    await assert.rejects(wf.resume(unknown), isNotFound);
    await assert.rejects(wf.cancel(unknown, "x"), isNotFound);
    await assert.rejects(wf.deleteData(unknown, "x"), isNotFound);
  } finally {
    await wf.stop();
  }
});

test("RunState numbers are the wire format", () => {
  assert.deepEqual(
    {
      Unknown: RunState.Unknown,
      Initiated: RunState.Initiated,
      Running: RunState.Running,
      Paused: RunState.Paused,
      Cancelled: RunState.Cancelled,
      Completed: RunState.Completed,
      DataDeleted: RunState.DataDeleted,
      RequestedDataDeleted: RunState.RequestedDataDeleted,
    },
    { Unknown: 0, Initiated: 1, Running: 2, Paused: 3, Cancelled: 4, Completed: 5, DataDeleted: 6, RequestedDataDeleted: 7 },
  );
});

// SPEC §3, written out independently of src/runstate.ts.
const allStates = [0, 1, 2, 3, 4, 5, 6, 7] as RunState[];
const allowed: { [from: number]: RunState[] } = {
  [RunState.Initiated]: [RunState.Running, RunState.Paused, RunState.Cancelled],
  [RunState.Running]: [RunState.Completed, RunState.Paused, RunState.Cancelled],
  [RunState.Paused]: [RunState.Running, RunState.Cancelled],
  [RunState.Completed]: [RunState.RequestedDataDeleted],
  [RunState.Cancelled]: [RunState.RequestedDataDeleted],
  [RunState.RequestedDataDeleted]: [RunState.DataDeleted],
  [RunState.DataDeleted]: [RunState.RequestedDataDeleted],
};
const finished = [RunState.Completed, RunState.Cancelled, RunState.RequestedDataDeleted, RunState.DataDeleted];
const stopped = [RunState.Paused, RunState.Cancelled, RunState.RequestedDataDeleted, RunState.DataDeleted];

test("canChangeRunState allows exactly the changes the spec lists, for every pair", () => {
  const mismatches: string[] = [];
  for (const from of allStates) {
    for (const to of allStates) {
      const expected = allowed[from]?.includes(to) ?? false;
      if (canChangeRunState(from, to) !== expected) mismatches.push(`${RunState[from]} → ${RunState[to]}: expected ${expected}`);
    }
  }
  assert.deepEqual(mismatches, []);
});

test("isFinished is true exactly for Completed, Cancelled, RequestedDataDeleted and DataDeleted", () => {
  for (const state of allStates) assert.equal(isFinished(state), finished.includes(state), RunState[state]);
});

test("isStopped is true exactly for Paused, Cancelled, RequestedDataDeleted and DataDeleted", () => {
  for (const state of allStates) assert.equal(isStopped(state), stopped.includes(state), RunState[state]);
});
