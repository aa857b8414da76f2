import assert from "node:assert/strict";
import { test } from "node:test";
import { Builder, HeaderKey, topic, type Codec, type Headers, type OutboxEvent } from "stepwise";
import { bundleCases, eventStreamerCases, makeRecord, recordStoreCases, roleSchedulerCases, timeoutStoreCases } from "stepwise/adaptertest";
import {
  memory,
  MemoryEventStreamer,
  MemoryRecordStore,
  MemoryRoleCluster,
  MemoryRoleScheduler,
  MemoryTimeoutStore,
} from "stepwise/memory";
import { failingRunDoesNotBlock, lineRunsComplete } from "../support/end-to-end.js";
import { quietLogger } from "../support/logger.js";

for (const c of eventStreamerCases(async () => new MemoryEventStreamer())) test(`memory: ${c.name}`, c.run);
// memory() is given no client of its own, so there is nothing of the user's to check.
for (const c of bundleCases(async () => memory(), async () => {})) test(`memory: ${c.name}`, c.run);
for (const c of recordStoreCases(async () => new MemoryRecordStore())) test(`memory: ${c.name}`, c.run);

/** A streamer that also lists what its record store published, oldest first, as the outbox would. */
class ListingStreamer extends MemoryEventStreamer {
  readonly published: OutboxEvent[] = [];

  override publish(topic: string, foreignId: string, type: number, headers: Headers): void {
    super.publish(topic, foreignId, type, headers);
    const workflowName = headers[HeaderKey.workflowName] ?? "";
    this.published.push({ id: String(this.published.length + 1), workflowName, foreignId, type, headers, createdAt: new Date() });
  }
}
const listing = new ListingStreamer();
const publishedBy = async (workflowName: string) => listing.published.filter((e) => e.workflowName === workflowName);
for (const c of recordStoreCases(async () => new MemoryRecordStore({ eventStreamer: listing }), { writtenEvents: publishedBy })) {
  test(`memory (events on the streamer): ${c.name}`, c.run);
}
for (const c of timeoutStoreCases(async () => new MemoryTimeoutStore())) test(`memory: ${c.name}`, c.run);
for (const c of roleSchedulerCases(async () => new MemoryRoleScheduler(), {
  loseLease: async (scheduler, role) => scheduler.revoke(role),
})) {
  test(`memory: ${c.name}`, c.run);
}
{
  const ttlMs = 300;
  for (const c of roleSchedulerCases(async () => new MemoryRoleScheduler({ cluster: new MemoryRoleCluster({ ttlMs }) }), {
    loseLease: async (scheduler, role) => scheduler.revoke(role),
    spread: {
      makeMembers: async (count) => {
        const cluster = new MemoryRoleCluster({ ttlMs });
        return Array.from({ length: count }, () => new MemoryRoleScheduler({ cluster }));
      },
      crash: (scheduler) => scheduler.crash(),
      takeoverMs: 2 * ttlMs,
      diagnostic: (message) => console.log(`memory cluster: ${message}`),
    },
  })) {
    test(`memory (cluster): ${c.name}`, c.run);
  }
}

test("memory: the event streamer drops events every cursor of the topic has acked", async () => {
  const streamer = new MemoryEventStreamer();
  const fast = await streamer.newReceiver("t", "fast");
  const slow = await streamer.newReceiver("t", "slow");
  const sender = await streamer.newSender("t");
  const count = 3000; // more than one compaction chunk, so the array is cut as well as cleared
  for (let i = 0; i < count; i++) await sender.send(`f-${i}`, 1, {});
  assert.equal(streamer.retainedEvents("t"), count);

  const signal = AbortSignal.timeout(5_000);
  for (let i = 0; i < count; i++) await (await fast.recv(signal)).ack();
  assert.equal(streamer.retainedEvents("t"), count, "the slow cursor still needs every event");

  for (let i = 0; i < 2000; i++) {
    const { event, ack } = await slow.recv(signal);
    assert.equal(event.foreignId, `f-${i}`);
    await ack();
  }
  assert.equal(streamer.retainedEvents("t"), count - 2000, "events both cursors passed are dropped");

  await slow.close();
  const resumed = await streamer.newReceiver("t", "slow");
  const { event, ack } = await resumed.recv(signal);
  assert.equal(event.foreignId, "f-2000", "a resumed name still finds its next event after compaction");
  assert.equal(event.id, "2000");
  await ack();
  assert.equal(streamer.retainedEvents("t"), count - 2001);
  await Promise.all([fast.close(), resumed.close(), sender.close()]);
});

test("memory: a received but un-acked event is kept for its name", async () => {
  const streamer = new MemoryEventStreamer();
  const receiver = await streamer.newReceiver("t", "only");
  try {
    const sender = await streamer.newSender("t");
    await sender.send("a", 1, {});
    await receiver.recv(AbortSignal.timeout(5_000));
    assert.equal(streamer.retainedEvents("t"), 1, "recv alone does not let the event go");
  } finally {
    await receiver.close();
  }
});

test("memory: a topic no receiver has opened keeps at most retainWithoutReceivers events", async () => {
  const streamer = new MemoryEventStreamer({ retainWithoutReceivers: 10 });
  const sender = await streamer.newSender("t");
  for (let i = 0; i < 25; i++) {
    await sender.send(`f-${i}`, 1, {});
    assert.ok(streamer.retainedEvents("t") <= 10, `at most 10 events held after ${i + 1} sends`);
  }
  assert.equal(streamer.retainedEvents("t"), 10);

  const late = await streamer.newReceiver("t", "late");
  try {
    const signal = AbortSignal.timeout(5_000);
    const { event, ack } = await late.recv(signal);
    assert.equal(event.foreignId, "f-15", "a late receiver starts at the oldest event kept");
    assert.equal(event.id, "15");
    await ack();
    for (let i = 25; i < 40; i++) await sender.send(`f-${i}`, 1, {});
    assert.equal(streamer.retainedEvents("t"), 39 - 16 + 1, "with a cursor, events it has not acked are all kept");
  } finally {
    await late.close();
  }
});

test("memory: a closed ephemeral receiver holds back no event of its topic", async () => {
  const streamer = new MemoryEventStreamer();
  const durable = await streamer.newReceiver("t", "durable");
  const ephemeral = await streamer.newReceiver("t", "await", { ephemeral: true });
  const sender = await streamer.newSender("t");
  for (let i = 0; i < 3; i++) await sender.send(`f-${i}`, 1, {});
  const signal = AbortSignal.timeout(5_000);
  for (let i = 0; i < 3; i++) await (await durable.recv(signal)).ack();
  assert.equal(streamer.retainedEvents("t"), 3, "an open ephemeral receiver keeps what it has not read");

  await ephemeral.close();
  assert.equal(streamer.retainedEvents("t"), 0, "once it closed, what the durable receiver passed is dropped");
});

test("memory: retainWithoutReceivers must be a whole number", () => {
  assert.throws(() => new MemoryEventStreamer({ retainWithoutReceivers: -1 }), /retainWithoutReceivers/);
  assert.throws(() => new MemoryEventStreamer({ retainWithoutReceivers: 1.5 }), /retainWithoutReceivers/);
});

test("memory: a closed receiver rejects recv, also one already waiting", async () => {
  const streamer = new MemoryEventStreamer();
  const receiver = await streamer.newReceiver("t", "r");
  try {
    const controller = new AbortController();
    const waiting = receiver.recv(controller.signal);
    await receiver.close();
    await assert.rejects(waiting, /closed/);
    await assert.rejects(receiver.recv(controller.signal), /closed/);
    controller.abort();
  } finally {
    await receiver.close();
  }
});

test("memory: a closed sender rejects send", async () => {
  const streamer = new MemoryEventStreamer();
  const sender = await streamer.newSender("t");
  await sender.close();
  await assert.rejects(sender.send("a", 1, {}), /closed/);
  assert.equal(streamer.retainedEvents("t"), 0);
});

test("memory: events carry the streamer clock's time", async () => {
  const fixed = new Date("2026-05-01T00:00:00.000Z");
  const streamer = new MemoryEventStreamer({ clock: { now: () => new Date(fixed), sleep: async () => {} } });
  const receiver = await streamer.newReceiver("t", "r");
  try {
    await (await streamer.newSender("t")).send("a", 1, {});
    const { event } = await receiver.recv(AbortSignal.timeout(5_000));
    assert.equal(event.createdAt.getTime(), fixed.getTime());
  } finally {
    await receiver.close();
  }
});

test("memory: snapshots returns a copy of every stored version, oldest first", async () => {
  const store = new MemoryRecordStore();
  const v1 = makeRecord();
  const v2 = { ...v1, status: 2, meta: { ...v1.meta, version: 2 } };
  const v3 = { ...v1, status: 3, meta: { ...v1.meta, version: 3 } };
  for (const r of [v1, v2, v3]) await store.store(r);
  await assert.rejects(store.store({ ...v1, status: 9, meta: { ...v1.meta, version: 3 } }));

  const snapshots = store.snapshots(v1.runId);
  assert.deepEqual(snapshots.map((r) => [r.meta.version, r.status]), [[1, 1], [2, 2], [3, 3]]);
  (snapshots[0] as (typeof snapshots)[number]).status = 99;
  assert.equal(store.snapshots(v1.runId)[0]?.status, 1, "snapshots are copies");
  assert.deepEqual(store.snapshots("no-such-run"), []);
});

test("memory: memory() bundles fresh adapters", () => {
  const adapters = memory();
  assert.ok(adapters.eventStreamer instanceof MemoryEventStreamer);
  assert.ok(adapters.recordStore instanceof MemoryRecordStore);
  assert.ok(adapters.timeoutStore instanceof MemoryTimeoutStore);
  assert.ok(adapters.roleScheduler instanceof MemoryRoleScheduler);
  assert.notEqual(memory().recordStore, adapters.recordStore);
});

test("memory: 300 runs of a three-step workflow on memory() over two shards each complete, each transition stored once", async () => {
  await lineRunsComplete(memory(), { runs: 300, name: "memory-line", outbox: false });
  await failingRunDoesNotBlock(memory(), "memory-head-of-line");
});

test("memory: the same with a record store whose events go through the outbox", async () => {
  const adapters = { ...memory(), recordStore: new MemoryRecordStore(), outbox: true };
  await lineRunsComplete(adapters, { runs: 300, name: "memory-outbox-line", outbox: true });
});

test("memory: a store given a streamer publishes each record's event on its topic at once", async () => {
  const streamer = new MemoryEventStreamer();
  const store = new MemoryRecordStore({ eventStreamer: streamer });
  const record = makeRecord({ workflowName: "published", status: 2 });
  const receiver = await streamer.newReceiver(topic("published", 2), "r");
  try {
    await store.store(record);
    const { event } = await receiver.recv(AbortSignal.timeout(5_000));
    assert.equal(event.headers[HeaderKey.runId], record.runId);
    assert.equal(event.headers[HeaderKey.recordVersion], "1");
    assert.deepEqual(await store.listOutboxEvents("published", 10), [], "nothing waits in the outbox");
  } finally {
    await receiver.close();
  }
});

/** What the objects of the tests below hold. */
type Shapes = { n: number; when?: unknown; gone?: unknown; odd?: unknown; list?: unknown[]; seen?: unknown };

enum Step {
  Unknown = 0,
  First = 1,
  Second = 2,
  Done = 3,
}

test("memory: a step that changes its object and then throws, or after it returned, leaves the stored object as it was", async () => {
  const b = new Builder<Shapes, Step>("kept-throw", Step);
  const seen: number[] = [];
  let kept: Shapes | undefined;
  b.addStep(
    Step.First,
    async (run) => {
      seen.push(run.object.n);
      run.object.n = 99;
      if (seen.length === 1) throw new Error("after changing the object");
      kept = run.object;
      return Step.Done;
    },
    Step.Done,
  ).withOptions({ errBackOff: 1 });
  const adapters = memory();
  const wf = b.build({ ...adapters, logger: quietLogger });
  try {
    await wf.run();
    const runId = await wf.trigger("t", { initialValue: { n: 1 } });
    const done = await wf.await("t", runId, Step.Done, { timeoutMs: 5_000 });
    assert.deepEqual(seen, [1, 1], "the retry saw the object as stored, not as the failed attempt left it");
    assert.equal(done.object.n, 99);
    done.object.n = 7;
    if (kept) kept.n = 8;
    assert.equal((await wf.get(runId)).object.n, 99, "changing an awaited run's object, or the step's, changes nothing stored");
    assert.deepEqual(adapters.recordStore.snapshots(runId).map((r) => JSON.parse(new TextDecoder().decode(r.object)) as Shapes), [{ n: 1 }, { n: 99 }]);
  } finally {
    await wf.stop();
  }
});

test("memory: with the default codec a step sees its object exactly as a round trip through JSON makes it", async () => {
  const b = new Builder<Shapes, Step>("kept-json", Step);
  const when = new Date("2026-03-04T05:06:07.089Z");
  b.addStep(
    Step.First,
    async (run) => {
      Object.assign(run.object, { when, gone: undefined, odd: [NaN, -0, undefined, () => 1, new Map([["k", 1]])], list: [{ a: [1, { b: "ü" }] }] });
      return Step.Second;
    },
    Step.Second,
  );
  b.addStep(
    Step.Second,
    async (run) => {
      run.object.seen = { whenIsString: typeof run.object.when === "string", hasGone: "gone" in run.object };
      return Step.Done;
    },
    Step.Done,
  );
  const adapters = memory();
  const wf = b.build(adapters);
  try {
    await wf.run();
    const runId = await wf.trigger("j", { initialValue: { n: 1 } });
    const done = await wf.await("j", runId, Step.Done, { timeoutMs: 5_000 });
    const roundTrip = JSON.parse(JSON.stringify({ n: 1, when, odd: [NaN, -0, undefined, () => 1, new Map([["k", 1]])], list: [{ a: [1, { b: "ü" }] }] })) as Shapes;
    assert.deepStrictEqual(done.object, { ...roundTrip, seen: { whenIsString: true, hasGone: false } });
    const stored = await adapters.recordStore.lookup(runId);
    assert.equal(new TextDecoder().decode(stored.object), JSON.stringify(done.object), "the stored bytes are the JSON codec's");
  } finally {
    await wf.stop();
  }
});

test("memory: a custom codec encodes every write and decodes every read of a step", async () => {
  let encodes = 0;
  let decodes = 0;
  const codec: Codec<Shapes> = {
    encode: (value) => {
      encodes++;
      return new TextEncoder().encode(JSON.stringify(value));
    },
    decode: (bytes) => {
      decodes++;
      return JSON.parse(new TextDecoder().decode(bytes)) as Shapes;
    },
  };
  const b = new Builder<Shapes, Step>("kept-codec", Step);
  b.addStep(Step.First, async (run) => (run.object.n++, Step.Second), Step.Second);
  b.addStep(Step.Second, async (run) => (run.object.n++, Step.Done), Step.Done);
  const wf = b.build({ ...memory(), codec });
  try {
    await wf.run();
    const runId = await wf.trigger("c", { initialValue: { n: 0 } });
    const done = await wf.await("c", runId, Step.Done, { timeoutMs: 5_000 });
    assert.equal(done.object.n, 2);
    assert.equal(encodes, 3, "the trigger and both steps encoded");
    assert.ok(decodes >= 3, "both steps and the await decoded");
  } finally {
    await wf.stop();
  }
});
