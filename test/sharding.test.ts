import assert from "node:assert/strict";
import { test } from "node:test";
import { fnv1a32, RunState } from "stepwise";
import { lineWorkflow, Status } from "./support/workflows.js";

test("1,000 runs over four shards per step all complete, each step handling each run once", async () => {
  const { wf, adapters, calls } = lineWorkflow({ stepOptions: { parallelCount: 4 } });
  try {
    await wf.run();
    const runIds = await Promise.all(
      Array.from({ length: 1000 }, (_, i) => wf.trigger(`item-${i}`, { initialValue: { id: `item-${i}`, count: 0 } })),
    );
    const done = await Promise.all(runIds.map((runId, i) => wf.await(`item-${i}`, runId, Status.Done)));
    for (const run of done) {
      assert.equal(run.runState, RunState.Completed);
      assert.equal(run.object.count, 3);
      // Trigger plus one write per step: no step stored its transition twice.
      assert.equal(run.meta.version, 4);
    }
    for (const runId of runIds) {
      for (const status of [Status.Created, Status.Processed, Status.Shipped]) {
        assert.equal(calls.get(`${runId}:${status}`), 1, `run ${runId} in status ${status}`);
      }
    }
    const stored = await adapters.recordStore.list({ workflowName: "line", limit: 2000, filter: { runState: [RunState.Completed] } });
    assert.equal(stored.length, 1000);
  } finally {
    await wf.stop();
  }
});

test("fnv1a32 matches the reference FNV-1a values, so shards agree across languages", () => {
  assert.equal(fnv1a32(""), 0x811c9dc5);
  assert.equal(fnv1a32("a"), 0xe40c292c);
  assert.equal(fnv1a32("foobar"), 0xbf9cf968);
  assert.equal(fnv1a32("é"), fnv1a32("\u00e9"));
});
