import assert from "node:assert/strict";
import { test } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import {
  AwaitTimeoutError,
  Builder,
  type InvalidOptionError,
  InvalidStatusError,
  ProcessState,
  RecordNotFoundError,
  RunState,
  StatusNotReachedError,
  WorkflowInProgressError,
  WorkflowNotRunningError,
} from "stepwise";
import { memory, MemoryRecordStore } from "stepwise/memory";
import { FakeClock } from "stepwise/testing";
import { lineWorkflow, lineWorkflowOn, Status, type Item } from "./support/workflows.js";
import { quietLogger } from "./support/logger.js";

test("a run goes through every step to its terminal status and completes", async () => {
  const { wf } = lineWorkflow();
  try {
    await wf.run();
    const runId = await wf.trigger("item-1", { initialValue: { id: "item-1", count: 0 } });
    const done = await wf.await("item-1", runId, Status.Done);
    assert.equal(done.status, Status.Done);
    assert.equal(done.runState, RunState.Completed);
    assert.deepEqual(done.object, { id: "item-1", count: 3 });
    assert.equal(done.meta.version, 4);
    assert.equal(done.meta.statusDescription, "Done");
    assert.equal(done.meta.traceOrigin, "", "no call site is captured unless debugging");
  } finally {
    await wf.stop();
  }
});

test("with debug: true, a run's traceOrigin names the file and line that triggered it", async () => {
  const { wf } = lineWorkflow({ config: { debug: true, logger: quietLogger } });
  try {
    await wf.run();
    const runId = await wf.trigger("traced", { initialValue: { id: "traced", count: 0 } });
    const done = await wf.await("traced", runId, Status.Done);
    assert.match(done.meta.traceOrigin, /workflow\.test\.ts:\d+:\d+/);
  } finally {
    await wf.stop();
  }
});

test("trigger before run() and after stop() throws WorkflowNotRunningError", async () => {
  const { wf } = lineWorkflow();
  await assert.rejects(wf.trigger("a", { initialValue: { id: "a", count: 0 } }), WorkflowNotRunningError);
  try {
    await wf.run();
    await wf.stop();
    await assert.rejects(wf.trigger("a", { initialValue: { id: "a", count: 0 } }), (err: WorkflowNotRunningError) => err.code === "WORKFLOW_NOT_RUNNING" && /run\(\)/.test(err.message));
  } finally {
    await wf.stop();
  }
});

test("run() that failed on a dropped store connection can be called again, and then runs", async () => {
  const adapters = memory();
  const list = adapters.recordStore.list.bind(adapters.recordStore);
  let failures = 1;
  // The check of stored runs that run() makes is the first call to the store.
  adapters.recordStore.list = async (query) => {
    if (failures-- > 0) throw new Error("connection terminated");
    return list(query);
  };
  const { wf } = lineWorkflowOn(adapters);
  try {
    await assert.rejects(wf.run(), /connection terminated/);
    await wf.run();
    const runId = await wf.trigger("item-1", { initialValue: { id: "item-1", count: 0 } });
    assert.equal((await wf.await("item-1", runId, Status.Done)).object.count, 3);
  } finally {
    await wf.stop();
  }
});

test("trigger starts at startAt, and rejects a status outside the graph", async () => {
  const { wf, calls } = lineWorkflow();
  try {
    await wf.run();
    const runId = await wf.trigger("item-2", { initialValue: { id: "item-2", count: 10 }, startAt: Status.Shipped });
    const done = await wf.await("item-2", runId, Status.Done);
    assert.equal(done.object.count, 11);
    assert.equal(calls.get(`${runId}:${Status.Created}`), undefined);
    await assert.rejects(wf.trigger("item-3", { initialValue: { id: "item-3", count: 0 }, startAt: Status.Failed }), (err: InvalidStatusError) => {
      return err instanceof InvalidStatusError && err.code === "INVALID_STATUS" && err.status === Status.Failed;
    });
  } finally {
    await wf.stop();
  }
});

test("concurrent triggers for one foreign id create exactly one run", async () => {
  const { wf, adapters } = lineWorkflow();
  try {
    await wf.run();
    const results = await Promise.allSettled(Array.from({ length: 20 }, () => wf.trigger("same", { initialValue: { id: "same", count: 0 } })));
    const created = results.filter((r) => r.status === "fulfilled");
    const refused = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
    assert.equal(created.length, 1);
    assert.equal(refused.length, 19);
    for (const r of refused) assert.ok(r.reason instanceof WorkflowInProgressError);
    const runs = await adapters.recordStore.list({ workflowName: "line", limit: 100, filter: { foreignId: ["same"] } });
    assert.equal(runs.length, 1);
  } finally {
    await wf.stop();
  }
});

test("a new run may start for a foreign id once its latest run finished", async () => {
  const { wf } = lineWorkflow();
  try {
    await wf.run();
    const first = await wf.trigger("again", { initialValue: { id: "again", count: 0 } });
    await wf.await("again", first, Status.Done);
    const second = await wf.trigger("again", { initialValue: { id: "again", count: 0 } });
    assert.notEqual(first, second);
    await wf.await("again", second, Status.Done);
  } finally {
    await wf.stop();
  }
});

function waitingWorkflow() {
  // A run waits in Created until a callback moves it; nothing consumes Created.
  const b = new Builder<Item, Status>("waiting", Status);
  b.addCallback(Status.Created, async (run, payload) => {
    run.object.count = Number(payload);
    return Status.Processed;
  }, Status.Processed);
  b.addStep(Status.Processed, async () => Status.Done, Status.Done);
  return b.build(memory());
}

test("await resolves at once for a status the run reached before the call", async () => {
  const wf = waitingWorkflow();
  try {
    await wf.run();
    const runId = await wf.trigger("w-1", { initialValue: { id: "w-1", count: 0 } });
    const waiting = await wf.await("w-1", runId, Status.Created);
    assert.equal(waiting.status, Status.Created);
    await wf.callback("w-1", Status.Created, 5);
    await wf.await("w-1", runId, Status.Done);
    const again = await wf.await("w-1", runId, Status.Done);
    assert.equal(again.runState, RunState.Completed);
    assert.equal(again.object.count, 5);
  } finally {
    await wf.stop();
  }
});

test("await of an unknown run, or of a run under another foreign id, throws RecordNotFoundError", async () => {
  const wf = waitingWorkflow();
  try {
    await wf.run();
    await assert.rejects(wf.await("nobody", "00000000-0000-4000-8000-000000000000", Status.Done), RecordNotFoundError);
    const runId = await wf.trigger("w-2", { initialValue: { id: "w-2", count: 0 } });
    await assert.rejects(wf.await("someone-else", runId, Status.Created), RecordNotFoundError);
  } finally {
    await wf.stop();
  }
});

test("await gives up after timeoutMs with AwaitTimeoutError, and when its signal aborts", async () => {
  const wf = waitingWorkflow();
  try {
    await wf.run();
    const runId = await wf.trigger("w-3", { initialValue: { id: "w-3", count: 0 } });
    await assert.rejects(wf.await("w-3", runId, Status.Done, { timeoutMs: 20 }), (err: AwaitTimeoutError) => {
      return err instanceof AwaitTimeoutError && err.code === "AWAIT_TIMEOUT" && /did not reach Done within 20 ms/.test(err.message);
    });
    const controller = new AbortController();
    const waiting = wf.await("w-3", runId, Status.Done, { signal: controller.signal });
    controller.abort(new Error("caller gave up"));
    await assert.rejects(waiting, /caller gave up/);
  } finally {
    await wf.stop();
  }
});

test("await sees a run that reaches the status after the call", async () => {
  const wf = waitingWorkflow();
  try {
    await wf.run();
    const runId = await wf.trigger("w-4", { initialValue: { id: "w-4", count: 0 } });
    const done = wf.await("w-4", runId, Status.Done);
    const processed = wf.await("w-4", runId, Status.Processed);
    await wf.callback("w-4", Status.Created, 9);
    assert.equal((await done).object.count, 9);
    assert.ok([Status.Processed, Status.Done].includes((await processed).status));
  } finally {
    await wf.stop();
  }
});

test("several awaits of one run each see it reach the status, also when one of them gave up first", async () => {
  const wf = waitingWorkflow();
  try {
    await wf.run();
    const runId = await wf.trigger("w-5", { initialValue: { id: "w-5", count: 0 } });
    const controller = new AbortController();
    const first = wf.await("w-5", runId, Status.Done);
    const givingUp = wf.await("w-5", runId, Status.Done, { signal: controller.signal });
    const awaits = [first, wf.await("w-5", runId, Status.Done), wf.await("w-5", runId, Status.Done)];
    controller.abort(new Error("caller gave up"));
    await assert.rejects(givingUp, /caller gave up/);
    await wf.callback("w-5", Status.Created, 5);
    for (const done of await Promise.all(awaits)) assert.equal(done.object.count, 5);
  } finally {
    await wf.stop();
  }
});

test("states() names every process and follows run() and stop()", async () => {
  const { wf } = lineWorkflow({ stepOptions: { parallelCount: 2 } });
  assert.deepEqual(Object.keys(wf.states()).sort(), [
    "created-consumer-1-of-2",
    "created-consumer-2-of-2",
    "delete-consumer",
    "paused-records-retry-consumer",
    "processed-consumer-1-of-2",
    "processed-consumer-2-of-2",
    "shipped-consumer-1-of-2",
    "shipped-consumer-2-of-2",
  ]);
  assert.ok(Object.values(wf.states()).every((s) => s === ProcessState.Unknown));
  try {
    await wf.run();
    const runId = await wf.trigger("s-1", { initialValue: { id: "s-1", count: 0 } });
    await wf.await("s-1", runId, Status.Done);
    assert.ok(Object.values(wf.states()).every((s) => s === ProcessState.Running));
    const stopping = wf.stop();
    assert.equal(wf.stop(), stopping);
    await stopping;
    assert.ok(Object.values(wf.states()).every((s) => s === ProcessState.Shutdown));
  } finally {
    await wf.stop();
  }
});

test("outbox: false leaves events in the store's outbox", async () => {
  const recordStore = new MemoryRecordStore();
  const { wf } = lineWorkflow({ config: { recordStore, outbox: false } });
  assert.equal(wf.states()["outbox-consumer"], undefined);
  try {
    await wf.run();
    await wf.trigger("o-1", { initialValue: { id: "o-1", count: 0 } });
    const pending = await recordStore.listOutboxEvents("line", 10);
    assert.equal(pending.length, 1);
  } finally {
    await wf.stop();
  }
});

test("await of a terminal status the run finished without reaching rejects with StatusNotReachedError", async () => {
  const b = new Builder<Item, Status>("ends-elsewhere", Status);
  b.addStep(
    Status.Created,
    async (run) => (run.object.count < 0 ? Status.Failed : run.object.count === 0 ? run.cancel("nothing to do") : Status.Done),
    Status.Done,
    Status.Failed,
  );
  const wf = b.build(memory());
  try {
    await wf.run();
    const failed = await wf.trigger("neg", { initialValue: { id: "neg", count: -1 } });
    await assert.rejects(wf.await("neg", failed, Status.Done), (err: StatusNotReachedError) => {
      assert.ok(err instanceof StatusNotReachedError);
      assert.equal(err.code, "STATUS_NOT_REACHED");
      assert.equal(err.run.status, Status.Failed);
      assert.equal(err.run.runState, RunState.Completed);
      assert.match(err.message, /finished without reaching Done: it ended Completed in Failed/);
      return true;
    });
    const cancelled = await wf.trigger("zero", { initialValue: { id: "zero", count: 0 } });
    await assert.rejects(wf.await("zero", cancelled, Status.Done), (err: StatusNotReachedError) => err.run.runState === RunState.Cancelled);
    const done = await wf.trigger("pos", { initialValue: { id: "pos", count: 1 } });
    assert.equal((await wf.await("pos", done, Status.Done)).status, Status.Done);
  } finally {
    await wf.stop();
  }
});

test("await's timeoutMs runs on the wall clock, so it ends under a FakeClock nobody advances", { timeout: 10_000 }, async () => {
  const clock = new FakeClock(new Date("2026-01-01T00:00:00Z"));
  const b = new Builder<Item, Status>("await-fake-clock", Status);
  b.addCallback(Status.Created, async () => Status.Done, Status.Done);
  const wf = b.build({ ...memory({ clock }), clock });
  try {
    await wf.run();
    const runId = await wf.trigger("f-1", { initialValue: { id: "f-1", count: 0 } });
    await assert.rejects(wf.await("f-1", runId, Status.Done, { timeoutMs: 20 }), AwaitTimeoutError);
  } finally {
    await wf.stop();
  }
});

test("await takes timeoutMs of Infinity or beyond a timer's range as a long wait, and refuses a negative one", async () => {
  const wf = waitingWorkflow();
  try {
    await wf.run();
    for (const timeoutMs of [Infinity, 2 ** 31 + 5]) {
      const foreignId = `w-5-${timeoutMs}`;
      const runId = await wf.trigger(foreignId, { initialValue: { id: foreignId, count: 0 } });
      const waiting = wf.await(foreignId, runId, Status.Done, { timeoutMs });
      // A timer given more than 2^31-1 ms fires after 1 ms: the wait must still be open well after that.
      const early = await Promise.race([waiting.then(() => "settled", () => "rejected"), delay(20).then(() => "still waiting")]);
      assert.equal(early, "still waiting", `timeoutMs ${timeoutMs}`);
      await wf.callback(foreignId, Status.Created, 3);
      assert.equal((await waiting).status, Status.Done);
    }
    const runId = await wf.trigger("w-6", { initialValue: { id: "w-6", count: 0 } });
    await assert.rejects(wf.await("w-6", runId, Status.Done, { timeoutMs: -1 }), (err: InvalidOptionError) => err.code === "INVALID_OPTION" && /timeoutMs/.test(err.message));
  } finally {
    await wf.stop();
  }
});
