import assert from "node:assert/strict";
import { test } from "node:test";
import { Builder, deleteTopic, RunState, runStateChangeTopic, topic } from "stepwise";
import { memory } from "stepwise/memory";
import { waitFor } from "stepwise/testing";
import { Status, type Item } from "./support/workflows.js";

test("names that differ in spaces, underscores or case give different topics", () => {
  const names = ["a b", "a_b", "A b", "a-b", "ab", "a\u00e9b", "a\ud83d\ude00b", "a\ud800b"];
  for (const make of [(n: string) => topic(n, 1), deleteTopic, runStateChangeTopic]) {
    const topics = names.map(make);
    assert.equal(new Set(topics).size, names.length, topics.join(", "));
    for (const t of topics) assert.match(t, /^[a-z0-9_-]+$/);
  }
  assert.equal(topic("orders", 2), "orders-2", "plain lower-case names stay as they are");
});

test("two workflows whose names differ only in spacing or case keep their runs apart", async () => {
  const adapters = memory();
  const handled: string[] = [];
  const make = (name: string, to: Status) => {
    const b = new Builder<Item, Status>(name, Status);
    b.addStep(
      Status.Created,
      async (run) => {
        handled.push(`${name}:${run.foreignId}`);
        return to;
      },
      to,
    );
    return b.build(adapters);
  };
  // Each would have read the other's topic, or waited on the other's role, when names were only lower-cased.
  const workflows = [make("order processing", Status.Done), make("order_processing", Status.Failed), make("Order processing", Status.Shipped)];
  try {
    for (const wf of workflows) await wf.run();
    for (const [i, wf] of workflows.entries()) await wf.trigger(`f-${i}`, { initialValue: { id: `f-${i}`, count: 0 } });
    const ends = [Status.Done, Status.Failed, Status.Shipped];
    for (const [i, wf] of workflows.entries()) {
      const run = await waitFor(wf, `f-${i}`, (r) => r.runState === RunState.Completed);
      assert.equal(run.status, ends[i], wf.name);
    }
    assert.deepEqual(handled.sort(), ["Order processing:f-2", "order processing:f-0", "order_processing:f-1"]);
  } finally {
    for (const wf of workflows) await wf.stop();
  }
});

test("roles of workflows whose names differ only in case are different roles", async () => {
  const adapters = memory();
  const taken: string[] = [];
  const roleScheduler = {
    await: (role: string, signal: AbortSignal) => {
      taken.push(role);
      return adapters.roleScheduler.await(role, signal);
    },
  };
  const upper = new Builder<Item, Status>("Orders", Status);
  upper.addStep(Status.Created, async () => Status.Done, Status.Done);
  const lower = new Builder<Item, Status>("orders", Status);
  lower.addStep(Status.Created, async () => Status.Done, Status.Done);
  const workflows = [upper.build({ ...adapters, roleScheduler }), lower.build({ ...adapters, roleScheduler })];
  try {
    for (const wf of workflows) await wf.run();
    for (const [i, wf] of workflows.entries()) {
      await wf.trigger(`o-${i}`, { initialValue: { id: `o-${i}`, count: 0 } });
      await waitFor(wf, `o-${i}`, (r) => r.status === Status.Done);
    }
    const consumers = taken.filter((r) => r.endsWith("-1-consumer-1-of-1"));
    assert.deepEqual(consumers.sort(), ["_4frders-1-consumer-1-of-1", "orders-1-consumer-1-of-1"]);
  } finally {
    for (const wf of workflows) await wf.stop();
  }
});
