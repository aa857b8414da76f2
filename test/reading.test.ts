import assert from "node:assert/strict";
import { test } from "node:test";
import { Builder, RunState, runControl, type InvalidOptionError, type RecordNotFoundError } from "stepwise";
import { memory } from "stepwise/memory";
import { waitFor } from "stepwise/testing";
import { lineWorkflow, Status, type Item } from "./support/workflows.js";

test("get and latest hand back typed runs decoded with the workflow's codec", async () => {
  const { wf } = lineWorkflow();
  try {
    await wf.run();
    const runId = await wf.trigger("r-1", { initialValue: { id: "r-1", count: 0 } });
    await wf.await("r-1", runId, Status.Done);
    const run = await wf.get(runId);
    assert.equal(run.runId, runId);
    assert.deepEqual(run.object, { id: "r-1", count: 3 });
    assert.equal(run.status, Status.Done);
    assert.equal((await wf.latest("r-1")).runId, runId);
    await assert.rejects(wf.latest("nobody@example.com"), (err: RecordNotFoundError) => {
      return err.code === "RECORD_NOT_FOUND" && err.foreignId === "nobody@example.com" && /foreign id "nobody@example\.com"/.test(err.message);
    });
    await assert.rejects(wf.get("00000000-0000-4000-8000-000000000000"), (err: RecordNotFoundError) => err.code === "RECORD_NOT_FOUND");
  } finally {
    await wf.stop();
  }
});

test("list pages through runs newest first with filters, without repeating or skipping a run", async () => {
  const b = new Builder<Item, Status>("listed", Status);
  b.addCallback(Status.Created, async () => Status.Done, Status.Done);
  const wf = b.build(memory());
  try {
    await wf.run();
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) ids.push(await wf.trigger(`l-${i}`, { initialValue: { id: `l-${i}`, count: i } }));
    for (const i of [1, 4]) await wf.callback(`l-${i}`, Status.Created, null);

    const seen: string[] = [];
    let cursor: string | undefined;
    for (;;) {
      const page = await wf.list({ limit: 3, cursor });
      assert.ok(page.runs.length <= 3);
      seen.push(...page.runs.map((r) => r.runId));
      if (!page.nextCursor) break;
      cursor = page.nextCursor;
    }
    assert.deepEqual(seen, [...ids].reverse(), "every run once, newest first");

    const done = await wf.list({ status: Status.Done });
    assert.deepEqual(done.runs.map((r) => r.foreignId).sort(), ["l-1", "l-4"]);
    assert.equal(done.nextCursor, null);
    const running = await wf.list({ runState: [RunState.Initiated], foreignId: "l-2" });
    assert.deepEqual(running.runs.map((r) => r.object.count), [2]);
    await assert.rejects(wf.list({ limit: 501 }), (err: InvalidOptionError) => err.code === "INVALID_OPTION" && /limit/.test(err.message));
    await assert.rejects(wf.list({ cursor: "not-a-cursor" }), (err: InvalidOptionError) => err.code === "INVALID_OPTION" && /cursor/.test(err.message));
  } finally {
    await wf.stop();
  }
});

test("callback answers whether it changed the run, and with the run after the call", async () => {
  const b = new Builder<Item, Status>("answered", Status);
  b.addCallback(
    Status.Created,
    async (run, payload) => {
      run.object.count = Number(payload);
      return Status.Done;
    },
    Status.Done,
  );
  const wf = b.build(memory());
  try {
    await wf.run();
    await wf.trigger("c-1", { initialValue: { id: "c-1", count: 0 } });
    const first = await wf.callback("c-1", Status.Created, 5);
    assert.equal(first.handled, true);
    assert.equal(first.run.status, Status.Done);
    assert.equal(first.run.object.count, 5);
    const again = await wf.callback("c-1", Status.Created, 9);
    assert.equal(again.handled, false, "already done: nothing changed");
    assert.equal(again.run.object.count, 5);
    await assert.rejects(wf.callback("nobody@x", Status.Created, 1), (err: RecordNotFoundError) => {
      return err.code === "RECORD_NOT_FOUND" && /foreign id "nobody@x"/.test(err.message);
    });
  } finally {
    await wf.stop();
  }
});

test("runControl changes runs without a built workflow, writing what the workflow writes", async () => {
  const adapters = memory();
  const b = new Builder<Item, Status>("controlled", Status);
  b.addCallback(Status.Created, async () => Status.Done, Status.Done);
  const wf = b.build(adapters);
  try {
    await wf.run();
    const runId = await wf.trigger("rc-1", { initialValue: { id: "rc-1", count: 0 } });
    const control = runControl(adapters.recordStore, "controlled");
    const paused = await control.pause(runId, "by an operator");
    assert.equal(paused.runState, RunState.Paused);
    assert.equal((await wf.get(runId)).meta.runStateReason, "by an operator");
    assert.equal((await control.resume(runId)).runState, RunState.Running);
    const cancelled = await control.cancel(runId, "duplicate");
    assert.equal(cancelled.meta.version, 4);
    await assert.rejects(control.pause(runId, "too late"), { code: "INVALID_TRANSITION" });
    await assert.rejects(runControl(adapters.recordStore, "another-workflow").cancel(runId, "x"), { code: "RECORD_NOT_FOUND" });
    // Each change went out as an event, as a built workflow's would: the delete process finishes this one.
    await control.deleteData(runId, "gdpr");
    await waitFor(wf, "rc-1", (r) => r.runState === RunState.DataDeleted);
  } finally {
    await wf.stop();
  }
});
