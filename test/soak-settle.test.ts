import assert from "node:assert/strict";
import { test } from "node:test";
import { memory } from "stepwise/memory";
import { memoryEffects, type Effects } from "./support/effects.js";
import { OrderStatus, PaymentStatus, soakWorkflowsOn } from "./support/soak-workflow.js";
import { until } from "./support/until.js";

test("the soak's settling round settles every other waiting payment when one fails, then throws that one", async () => {
  const adapters = memory();
  const kept = memoryEffects();
  let failingRunId = "";
  const effects: Effects = {
    apply: async (runId, handler, version) => {
      if (handler === "settle" && runId === failingRunId) throw new Error("the payment service is down for this one");
      await kept.apply(runId, handler, version);
    },
    all: kept.all,
  };
  const { order, payment, settleWaiting, trigger } = soakWorkflowsOn(adapters, effects, { timeoutMs: 1 });
  await Promise.all([order.run(), payment.run()]);
  try {
    const ids = ["a", "b", "c"];
    for (const id of ids) await trigger(id);
    const waiting = async () => (await order.list({ status: OrderStatus.AwaitingPayment, limit: 10 })).runs;
    const authorised = async () => (await Promise.all(ids.map((id) => payment.latest(id)))).every((run) => run.status === PaymentStatus.Authorised);
    await until("every order to wait for its authorised payment", async () => (await waiting()).length === ids.length && (await authorised()));
    // The first the round meets fails: a round that stopped there would settle none of the others.
    const [first] = await waiting();
    assert.ok(first);
    failingRunId = (await payment.latest(first.foreignId)).runId;

    await assert.rejects(settleWaiting(), (err: unknown) => {
      assert.ok(err instanceof AggregateError);
      assert.deepEqual(err.errors.map(String), ["Error: the payment service is down for this one"]);
      return true;
    });
    const statuses = await Promise.all(ids.map(async (id) => (await payment.latest(id)).status));
    assert.deepEqual(statuses, ids.map((id) => (id === first.foreignId ? PaymentStatus.Authorised : PaymentStatus.Settled)));
  } finally {
    await Promise.all([order.stop(), payment.stop()]);
    await adapters.close();
  }
});
