import assert from "node:assert/strict";
import { test } from "node:test";
import { Builder, RunState, type TypedRecord } from "stepwise";
import { memory } from "stepwise/memory";
import { FakeClock, waitFor } from "stepwise/testing";
import { until } from "./support/until.js";
import { Status, type Item } from "./support/workflows.js";

test("onComplete, onPause and onCancel fire once per state change with the typed run", async () => {
  const seen: { hook: string; foreignId: string; count: number }[] = [];
  const record = (hook: string) => async (run: TypedRecord<Item, Status>) => {
    seen.push({ hook, foreignId: run.foreignId, count: run.object.count });
  };
  const b = new Builder<Item, Status>("hooked", Status);
  b.addStep(
    Status.Created,
    async (run) => {
      run.object.count = 7;
      if (run.foreignId === "pause-me") return run.pause("wait");
      if (run.foreignId === "cancel-me") return run.cancel("no");
      return Status.Done;
    },
    Status.Done,
  );
  b.onComplete(record("complete"));
  b.onPause(record("pause"));
  b.onCancel(record("cancel"));
  const wf = b.build(memory());
  assert.ok("completed-run-state-change-hook-consumer" in wf.states());
  assert.ok("paused-run-state-change-hook-consumer" in wf.states());
  assert.ok("cancelled-run-state-change-hook-consumer" in wf.states());
  try {
    await wf.run();
    for (const id of ["done-1", "pause-me", "cancel-me", "done-2"]) await wf.trigger(id, { initialValue: { id, count: 0 } });
    await until("four hook calls", () => seen.length >= 4);
    // One more completion after the others proves no earlier hook fires twice.
    await wf.trigger("done-3", { initialValue: { id: "done-3", count: 0 } });
    await until("the fifth hook call", () => seen.length >= 5);
    assert.deepEqual(
      [...seen].sort((a, b) => a.foreignId.localeCompare(b.foreignId)),
      [
        { hook: "cancel", foreignId: "cancel-me", count: 7 },
        { hook: "complete", foreignId: "done-1", count: 7 },
        { hook: "complete", foreignId: "done-2", count: 7 },
        { hook: "complete", foreignId: "done-3", count: 7 },
        { hook: "pause", foreignId: "pause-me", count: 7 },
      ],
    );
  } finally {
    await wf.stop();
  }
});

test("deleteData replaces a finished run's object and marks it DataDeleted", async () => {
  const b = new Builder<Item, Status>("deleting", Status);
  b.addStep(Status.Created, async () => Status.Done, Status.Done);
  const adapters = memory();
  const wf = b.build(adapters);
  try {
    await wf.run();
    const runId = await wf.trigger("d-1", { initialValue: { id: "secret", count: 1 } });
    await wf.await("d-1", runId, Status.Done);
    await wf.deleteData(runId, "customer asked");
    await waitFor(wf, "d-1", (r) => r.runState === RunState.DataDeleted);
    const stored = await adapters.recordStore.lookup(runId);
    assert.equal(new TextDecoder().decode(stored.object), '{"result":"deleted"}');
    assert.equal(stored.status, Status.Done);
    const states = adapters.recordStore.snapshots(runId).map((r) => r.runState);
    assert.deepEqual(states.slice(-2), [RunState.RequestedDataDeleted, RunState.DataDeleted]);
  } finally {
    await wf.stop();
  }
});

test("customDelete decides what a deleted object becomes", async () => {
  const b = new Builder<Item, Status>("custom-delete", Status);
  b.addStep(Status.Created, async () => Status.Done, Status.Done);
  const wf = b.build({ ...memory(), customDelete: (object) => ({ ...object, id: "redacted" }) });
  try {
    await wf.run();
    const runId = await wf.trigger("d-2", { initialValue: { id: "secret", count: 3 } });
    await wf.await("d-2", runId, Status.Done);
    await wf.deleteData(runId, "gdpr");
    const deleted = await waitFor(wf, "d-2", (r) => r.runState === RunState.DataDeleted);
    assert.deepEqual(deleted.object, { id: "redacted", count: 3 });
  } finally {
    await wf.stop();
  }
});

test("a paused run is resumed after pauseRetry.resumeAfter and finishes", async () => {
  const clock = new FakeClock(new Date("2026-01-01T00:00:00Z"));
  let attempts = 0;
  const b = new Builder<Item, Status>("auto-resume", Status);
  b.addStep(
    Status.Created,
    async (run) => {
      attempts++;
      return attempts === 1 ? run.pause("provider down") : Status.Done;
    },
    Status.Done,
  );
  const wf = b.build({ ...memory({ clock }), clock, pauseRetry: { resumeAfter: 10 * 60_000 } });
  try {
    await wf.run();
    const runId = await wf.trigger("p-1", { initialValue: { id: "p-1", count: 0 } });
    await waitFor(wf, "p-1", (r) => r.runState === RunState.Paused);
    await clock.blockUntil(1);
    clock.advance(10 * 60_000 - 1);
    await clock.blockUntil(1);
    assert.equal(attempts, 1);
    clock.advance(1);
    const done = await wf.await("p-1", runId, Status.Done);
    assert.equal(done.runState, RunState.Completed);
    assert.equal(attempts, 2);
  } finally {
    await wf.stop();
  }
});

test("pauseRetry: false leaves paused runs paused", () => {
  const b = new Builder<Item, Status>("no-resume", Status);
  b.addStep(Status.Created, async () => Status.Done, Status.Done);
  const wf = b.build({ ...memory(), pauseRetry: false });
  assert.equal(wf.states()["paused-records-retry-consumer"], undefined);
});

test("the workflow's default lag delays steps but never a run-state hook", { timeout: 10_000 }, async () => {
  const clock = new FakeClock(new Date("2026-01-01T00:00:00Z"));
  const completed: string[] = [];
  const b = new Builder<Item, Status>("hooks-do-not-lag", Status);
  // This step asks for no lag itself, so only the hook could wait out the default.
  b.addStep(Status.Created, async () => Status.Done, Status.Done).withOptions({ lag: 0 });
  b.onComplete(async (run) => void completed.push(run.foreignId));
  const wf = b.build({ ...memory({ clock }), clock, defaultOptions: { lag: 700 } });
  try {
    await wf.run();
    await wf.trigger("h-1", { initialValue: { id: "h-1", count: 0 } });
    await until("the onComplete hook, with the clock standing still", () => completed.length === 1);
  } finally {
    await wf.stop();
  }
});
