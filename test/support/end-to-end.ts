// The end-to-end case every backend's test file runs: the same workflow, the same load and the
// same checks, so that backends differ only in the adapters they are given.
import assert from "node:assert/strict";
import { Builder, RunState, type BuildConfig } from "stepwise";
import { lineWorkflowOn, Status, type Item } from "./workflows.js";
import { errorsTo, quietLogger } from "./logger.js";

/** The load of the end-to-end case, and what it expects of the backend. */
export interface EndToEndOptions {
  /** How many runs to trigger, all at once. */
  runs: number;
  /** The workflow's name: a fresh one wherever topics or keys outlive a test. */
  name: string;
  /** Whether the workflow has an outbox process, i.e. events are not written with the record. */
  outbox?: boolean;
  /** Step shards; 2 unless given. */
  parallelCount?: number;
  /** How long each run may take to complete. */
  timeoutMs?: number;
  /** Options for the workflow, such as `defaultOptions`; its logger is the case's own. */
  config?: Omit<Partial<BuildConfig<Item>>, "logger">;
}

/**
 * Runs `options.runs` runs of the three-step line workflow (Created → Processed → Shipped → Done)
 * on `adapters` and checks that every run completed at version 4 (one write at trigger, one per
 * step) with each step run exactly once, and that no process logged an error. The workflow is
 * stopped whatever happens. Returns the run ids, for checks only the backend can make (its events).
 */
export async function lineRunsComplete(adapters: BuildConfig<Item>, options: EndToEndOptions): Promise<string[]> {
  const errors: unknown[] = [];
  const { wf, calls } = lineWorkflowOn(adapters, {
    name: options.name,
    stepOptions: { parallelCount: options.parallelCount ?? 2 },
    config: { ...options.config, logger: errorsTo(errors) },
  });
  if (options.outbox !== undefined) assert.equal("outbox-consumer" in wf.states(), options.outbox, "an outbox process exactly when events need moving");
  try {
    await wf.run();
    const ids = Array.from({ length: options.runs }, (_, i) => `item-${i}`);
    const runIds = await Promise.all(ids.map((id) => wf.trigger(id, { initialValue: { id, count: 0 } })));
    const done = await Promise.all(runIds.map((runId, i) => wf.await(ids[i] ?? "", runId, Status.Done, { timeoutMs: options.timeoutMs ?? 30_000 })));
    for (const run of done) {
      assert.equal(run.runState, RunState.Completed, `run ${run.runId} completed`);
      assert.equal(run.meta.version, 4, `run ${run.runId} stored four versions`);
      assert.equal(run.object.count, 3, `run ${run.runId} went through three steps`);
    }
    assert.equal(calls.size, 3 * options.runs, "every step ran for every run");
    assert.ok([...calls.values()].every((n) => n === 1), "and only once");
    assert.deepEqual(errors, [], "no process logged an error");
    return runIds;
  } finally {
    await wf.stop();
  }
}

/**
 * One run whose first step always throws, triggered before twenty others: the others all complete
 * while it backs off (errBackOff is a minute, so it is not retried meanwhile) and it stays where it
 * was, unchanged. Checks that a failing run never holds up its status on the backend.
 */
export async function failingRunDoesNotBlock(adapters: BuildConfig<Item>, name: string): Promise<void> {
  const b = new Builder<Item, Status>(name, Status);
  b.addStep(
    Status.Created,
    async (run) => {
      if (run.foreignId === "bad") throw new Error("this run always fails");
      return Status.Done;
    },
    Status.Done,
  ).withOptions({ errBackOff: 60_000, pauseAfterErrCount: 0 });
  const wf = b.build({ ...adapters, logger: quietLogger });
  try {
    await wf.run();
    const bad = await wf.trigger("bad", { initialValue: { id: "bad", count: 0 } });
    const ids = Array.from({ length: 20 }, (_, i) => `good-${i}`);
    const runIds: string[] = [];
    for (const id of ids) runIds.push(await wf.trigger(id, { initialValue: { id, count: 0 } }));
    for (const [i, runId] of runIds.entries()) {
      assert.equal((await wf.await(ids[i] ?? "", runId, Status.Done, { timeoutMs: 30_000 })).status, Status.Done);
    }
    const stuck = await wf.get(bad);
    assert.equal(stuck.status, Status.Created);
    assert.equal(stuck.meta.version, 1);
  } finally {
    await wf.stop();
  }
}
