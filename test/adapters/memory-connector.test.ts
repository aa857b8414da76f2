import assert from "node:assert/strict";
import { getEventListeners } from "node:events";
import { test } from "node:test";
import { setImmediate } from "node:timers/promises";
import { Builder, ProcessState, RunState, type ConnectorConstructor, type ConnectorConsumer, type ConnectorEvent } from "stepwise";
import { connectorCases } from "stepwise/adaptertest";
import { memory, MemoryConnector } from "stepwise/memory";
import { waitFor } from "stepwise/testing";
import { quietLogger } from "../support/logger.js";

for (const c of connectorCases(async (events) => new MemoryConnector(events))) test(`memory: ${c.name}`, c.run);

function event(id: string, overrides: Partial<ConnectorEvent> = {}): ConnectorEvent {
  return {
    id,
    foreignId: `order-${id}`,
    type: "payment.settled",
    headers: { source: "test" },
    createdAt: new Date("2026-01-01T00:00:00.000Z"),
    ...overrides,
  };
}

/** Whether `promise` has settled after pending callbacks ran; not a sleep. */
async function hasSettled(promise: Promise<unknown>): Promise<boolean> {
  let settled = false;
  promise.then(
    () => (settled = true),
    () => (settled = true),
  );
  for (let i = 0; i < 5; i++) await setImmediate();
  return settled;
}

test("memory connector: add wakes every waiting consumer with the new event", async () => {
  const connector = new MemoryConnector();
  const first = await connector.make("first");
  const second = await connector.make("second");
  const signal = AbortSignal.timeout(5_000);
  const waitingFirst = first.recv(signal);
  const waitingSecond = second.recv(signal);
  assert.equal(await hasSettled(waitingFirst), false, "recv waits on an empty stream");

  connector.add(event("a"));
  const [a1, a2] = await Promise.all([waitingFirst, waitingSecond]);
  assert.equal(a1.event.id, "a");
  assert.equal(a2.event.id, "a");
  await Promise.all([a1.ack(), a2.ack()]);
  await Promise.all([first.close(), second.close()]);
});

test("memory connector: add appends after the constructor's events, in order", async () => {
  const connector = new MemoryConnector([event("a"), event("b")]);
  connector.add();
  connector.add(event("c"), event("d"));
  const consumer = await connector.make("reader");
  const signal = AbortSignal.timeout(5_000);
  const got: string[] = [];
  for (let i = 0; i < 4; i++) {
    const { event: e, ack } = await consumer.recv(signal);
    got.push(e.id);
    await ack();
  }
  assert.deepEqual(got, ["a", "b", "c", "d"]);
  await consumer.close();
});

test("memory connector: a closed consumer rejects recv, also one already waiting", async () => {
  const connector = new MemoryConnector([event("a")]);
  const consumer = await connector.make("reader");
  const controller = new AbortController();
  await (await consumer.recv(controller.signal)).ack();
  const waiting = consumer.recv(controller.signal);
  await consumer.close();
  await assert.rejects(waiting, /memory connector consumer "reader" is closed/);
  await assert.rejects(consumer.recv(controller.signal), /closed/);
  await consumer.close(); // idempotent
  controller.abort();
});

test("memory connector: acks of a closed consumer still count for its name", async () => {
  const connector = new MemoryConnector([event("a"), event("b")]);
  const before = await connector.make("reader");
  const signal = AbortSignal.timeout(5_000);
  const { ack } = await before.recv(signal);
  await before.close();
  await ack();
  const after = await connector.make("reader");
  assert.equal((await after.recv(signal)).event.id, "b");
  await after.close();
});

test("memory connector: recv leaves no abort listener on the signal it was given", async () => {
  const connector = new MemoryConnector();
  const consumer = await connector.make("reader");
  const controller = new AbortController();
  for (const id of ["a", "b", "c"]) {
    const waiting = consumer.recv(controller.signal);
    assert.equal(await hasSettled(waiting), false);
    connector.add(event(id));
    await (await waiting).ack();
  }
  assert.equal(getEventListeners(controller.signal, "abort").length, 0, "woken waits remove their listener");

  const other = new AbortController();
  const aborted = consumer.recv(other.signal);
  other.abort(new Error("stop"));
  await assert.rejects(aborted, /stop/);
  assert.equal(getEventListeners(other.signal, "abort").length, 0, "an aborted wait removes its listener");
  await consumer.close();
});

test("memory connector: neither the caller nor a consumer can change the connector's events", async () => {
  const given = event("a", { headers: { k: "v" } });
  const connector = new MemoryConnector([given]);
  given.foreignId = "changed";
  given.headers.k = "changed";
  given.createdAt.setTime(0);

  const signal = AbortSignal.timeout(5_000);
  const first = await connector.make("first");
  const { event: received } = await first.recv(signal);
  assert.equal(received.foreignId, "order-a", "the caller's later change does not reach the connector");
  assert.equal(received.headers.k, "v");
  assert.equal(received.createdAt.toISOString(), "2026-01-01T00:00:00.000Z");
  received.headers.k = "mutated";
  received.createdAt.setTime(0);
  received.type = "mutated";

  const second = await connector.make("second");
  const { event: again } = await second.recv(signal);
  assert.deepEqual(again, event("a", { headers: { k: "v" } }), "a consumer's change does not reach the connector");
  await Promise.all([first.close(), second.close()]);
});

enum PaymentStatus {
  Unknown = 0,
  Received = 1,
  Settled = 2,
}

type Payment = { orderId: string; eventId: string; amount: number };

/**
 * A workflow whose runs start from the connector's events: `Received → Settled`. `calls` counts
 * the handler's calls per event id.
 */
function paymentsWorkflow(connector: ConnectorConstructor, options: { parallelCount?: number; errBackOff?: number; failFirstCallOf?: string } = {}) {
  const calls = new Map<string, number>();
  const b = new Builder<Payment, PaymentStatus>("payment-intake", PaymentStatus);
  b.addStep(PaymentStatus.Received, async () => PaymentStatus.Settled, PaymentStatus.Settled);
  b.addConnector("payments", connector, async (api, e) => {
    const n = (calls.get(e.id) ?? 0) + 1;
    calls.set(e.id, n);
    if (e.id === options.failFirstCallOf && n === 1) throw new Error(`handler failed on ${e.id}`);
    await api.trigger(e.foreignId, { initialValue: { orderId: e.foreignId, eventId: e.id, amount: Number(e.headers.amount) } });
  }).withOptions({ parallelCount: options.parallelCount, errBackOff: options.errBackOff });
  const adapters = memory();
  const wf = b.build({ ...adapters, logger: quietLogger });
  return { wf, adapters, calls };
}

/**
 * Wraps a connector to count acks per consumer name; `acked(n, names)` resolves once `names`
 * consumer names have each acked at least `n` events (pushed by the acks, no polling).
 */
function countingAcks(inner: ConnectorConstructor) {
  const acks = new Map<string, number>();
  const checks = new Set<() => void>();
  const connector: ConnectorConstructor = {
    async make(name) {
      const consumer = await inner.make(name);
      const counted: ConnectorConsumer = {
        async recv(signal) {
          const { event: e, ack } = await consumer.recv(signal);
          return {
            event: e,
            ack: async () => {
              await ack();
              acks.set(name, (acks.get(name) ?? 0) + 1);
              for (const check of checks) check();
            },
          };
        },
        close: () => consumer.close(),
      };
      return counted;
    },
  };
  function acked(n: number, names: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const check = () => {
        if ([...acks.values()].filter((count) => count >= n).length >= names) {
          checks.delete(check);
          resolve();
        }
      };
      checks.add(check);
      check();
    });
  }
  return { connector, acks, acked };
}

test("memory connector: a workflow's connector triggers a run for each event, also those added while it runs", async () => {
  const connector = new MemoryConnector([event("e-1", { headers: { amount: "10" } }), event("e-2", { headers: { amount: "20" } })]);
  const { wf, calls } = paymentsWorkflow(connector);
  try {
    await wf.run();

    connector.add(event("e-3", { headers: { amount: "30" } }));
    for (const [id, amount] of [["e-1", 10], ["e-2", 20], ["e-3", 30]] as const) {
      const run = await waitFor(wf, `order-${id}`, (r) => r.status === PaymentStatus.Settled);
      assert.deepEqual(run.object, { orderId: `order-${id}`, eventId: id, amount });
      assert.equal(run.runState, RunState.Completed);
    }
    assert.deepEqual(Object.fromEntries(calls), { "e-1": 1, "e-2": 1, "e-3": 1 });
    assert.equal(wf.states()["payments-connector-to-payment-intake-consumer-1-of-1"], ProcessState.Running);
    await wf.stop();
    assert.equal(wf.states()["payments-connector-to-payment-intake-consumer-1-of-1"], ProcessState.Shutdown);
  } finally {
    await wf.stop();
  }
});

test("memory connector: with parallelCount 2 every event is handled exactly once", async () => {
  const ids = Array.from({ length: 20 }, (_, i) => `p-${i}`);
  const memoryConnector = new MemoryConnector(ids.slice(0, 10).map((id) => event(id, { headers: { amount: "1" } })));
  const { connector, acks, acked } = countingAcks(memoryConnector);
  const { wf, adapters, calls } = paymentsWorkflow(connector, { parallelCount: 2 });
  try {
    await wf.run();
    memoryConnector.add(...ids.slice(10).map((id) => event(id, { headers: { amount: "1" } })));

    // Each shard reads every event under its own name and acks the other shard's without handling them.
    await acked(ids.length, 2);
    assert.equal(acks.size, 2, "one consumer name per shard");
    for (const count of acks.values()) assert.equal(count, ids.length, "each shard's consumer acks every event once");
    for (const id of ids) {
      await waitFor(wf, `order-${id}`, (r) => r.status === PaymentStatus.Settled);
      const runs = await adapters.recordStore.list({ workflowName: "payment-intake", limit: 10, filter: { foreignId: [`order-${id}`] } });
      assert.equal(runs.length, 1, `one run for ${id}`);
    }
    assert.deepEqual(
      Object.fromEntries(calls),
      Object.fromEntries(ids.map((id) => [id, 1])),
      "the handler ran once per event",
    );

    const states = wf.states();
    const connectorProcesses = Object.keys(states).filter((name) => name.startsWith("payments-connector-"));
    assert.deepEqual(connectorProcesses.sort(), [
      "payments-connector-to-payment-intake-consumer-1-of-2",
      "payments-connector-to-payment-intake-consumer-2-of-2",
    ]);
    for (const name of connectorProcesses) assert.equal(states[name], ProcessState.Running, `${name} is running`);
  } finally {
    await wf.stop();
  }
});

test("memory connector: an event whose handler throws is delivered again and then handled", async () => {
  const connector = new MemoryConnector([event("f-1", { headers: { amount: "5" } }), event("f-2", { headers: { amount: "6" } })]);
  const { wf, calls } = paymentsWorkflow(connector, { errBackOff: 1, failFirstCallOf: "f-1" });
  try {
    await wf.run();

    const first = await waitFor(wf, "order-f-1", (r) => r.status === PaymentStatus.Settled);
    assert.equal(first.object.amount, 5);
    await waitFor(wf, "order-f-2", (r) => r.status === PaymentStatus.Settled);
    assert.deepEqual(Object.fromEntries(calls), { "f-1": 2, "f-2": 1 }, "the failed event came back once; the next was not skipped");
  } finally {
    await wf.stop();
  }
});
