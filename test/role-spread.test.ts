import assert from "node:assert/strict";
import { test } from "node:test";
import { ProcessState, RunState, type Workflow } from "stepwise";
import { quietLogger } from "./support/logger.js";
import { memory, MemoryRoleCluster, MemoryRoleScheduler } from "stepwise/memory";
import { until } from "./support/until.js";
import { lineWorkflowOn, Status, type Item } from "./support/workflows.js";

/** For each process name, the workflows (by index) in which it is Running. */
function runningIn(wfs: readonly Workflow<Item, Status>[]): { byProcess: Map<string, number[]>; counts: number[] } {
  const byProcess = new Map<string, number[]>();
  const counts = wfs.map((wf, i) => {
    let running = 0;
    for (const [name, state] of Object.entries(wf.states())) {
      const list = byProcess.get(name) ?? [];
      byProcess.set(name, list);
      if (state !== ProcessState.Running) continue;
      list.push(i);
      running++;
    }
    return running;
  });
  return { byProcess, counts };
}

/** Every process runs in exactly one of `live`, and each of them runs its share, give or take one. */
function isSpreadOver(wfs: readonly Workflow<Item, Status>[], live: readonly number[]): boolean {
  const { byProcess, counts } = runningIn(wfs);
  const share = byProcess.size / live.length;
  return (
    [...byProcess.values()].every((list) => list.length === 1 && live.includes(list[0] as number)) &&
    live.every((i) => Math.abs((counts[i] ?? 0) - share) <= 1)
  );
}

test("three workflow instances on one role cluster split the processes, run every transition once, and take over from one that stops", async () => {
  // One set of stores stands in for the shared database; each instance has its own role scheduler, as a process would.
  const shared = memory();
  const cluster = new MemoryRoleCluster({ ttlMs: 300 });
  const instances = [0, 1, 2].map(() =>
    lineWorkflowOn({ ...shared, roleScheduler: new MemoryRoleScheduler({ cluster }) }, { name: "spread", stepOptions: { parallelCount: 2 } }),
  );
  const wfs = instances.map((i) => i.wf);
  try {
    await Promise.all(wfs.map((wf) => wf.run()));
    await until("the processes to spread over the three instances", () => isSpreadOver(wfs, [0, 1, 2]));
    assert.ok(runningIn(wfs).counts.every((n) => n > 0), "each instance runs some processes");

    const [first, second] = wfs as [Workflow<Item, Status>, Workflow<Item, Status>];
    const ids = Array.from({ length: 100 }, (_, i) => `item-${i}`);
    const runIds = await Promise.all(ids.map((id) => first.trigger(id, { initialValue: { id, count: 0 } })));
    for (const [i, runId] of runIds.entries()) {
      const run = await first.await(ids[i] ?? "", runId, Status.Done, { timeoutMs: 10_000 });
      assert.equal(run.runState, RunState.Completed);
      assert.equal(run.object.count, 3, "three steps, wherever each ran");
    }
    const calls = instances.flatMap((i) => [...i.calls.values()]);
    assert.equal(calls.length, 3 * 100, "every step ran for every run, in one instance");
    assert.ok(calls.every((n) => n === 1), "and only once, across the instances");

    await second.stop();
    await until("the stopped instance's processes to move to the other two", () => isSpreadOver(wfs, [0, 2]));
  } finally {
    await Promise.all(wfs.map((wf) => wf.stop()));
    await shared.close();
  }
});

test("with debug, a process that hands a role to a newcomer says so, rather than that it lost it", async () => {
  const shared = memory();
  const cluster = new MemoryRoleCluster({ ttlMs: 300 });
  const lines: string[] = [];
  const logger = { ...quietLogger, debug: (message: string) => void lines.push(message) };
  const first = lineWorkflowOn({ ...shared, roleScheduler: new MemoryRoleScheduler({ cluster }) }, { name: "handover", config: { debug: true, logger } });
  const second = lineWorkflowOn({ ...shared, roleScheduler: new MemoryRoleScheduler({ cluster }) }, { name: "handover" });
  const wfs = [first.wf, second.wf];
  try {
    await first.wf.run();
    await until("the first instance to hold every process", () => isSpreadOver(wfs, [0]));
    await second.wf.run();
    await until("the processes to spread over both", () => isSpreadOver(wfs, [0, 1]));
    assert.ok(lines.includes("role handed over"), "the first instance logged the handover");
    assert.ok(!lines.includes("role lost"), "and no role as lost");
  } finally {
    await Promise.all(wfs.map((wf) => wf.stop()));
    await shared.close();
  }
});
