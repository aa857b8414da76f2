import assert from "node:assert/strict";
import { test } from "node:test";
import { Builder, type Delivery, type Event, type EventReceiver, type EventStreamer } from "stepwise";
import { jetstreamManager } from "@nats-io/jetstream";
import { memory, MemoryRecordStore, MemoryTimeoutStore } from "stepwise/memory";
import { nats } from "stepwise/nats";
import { redis } from "stepwise/redis";
import { maxPendingItems } from "../src/process.js";
import { connectNats, uniquePrefix } from "./support/nats.js";
import { deleteKeys, freshPrefix, redisClient } from "./support/redis.js";
import { until } from "./support/until.js";
import { Status, type Item } from "./support/workflows.js";

/** More runs than a process may hold un-acked, so a missing bound would show. */
const runs = 2 * maxPendingItems + 500;

/** A gate the step functions wait at until the test opens it. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}

/** How many events the step's receivers have handed out and not had acked: what the engine holds. */
class Outstanding {
  now = 0;
  most = 0;

  /** The streamer, with the step topic's receivers counting their deliveries and acks. */
  wrap(streamer: EventStreamer, topic: (name: string) => boolean): EventStreamer {
    return {
      newSender: (name) => streamer.newSender(name),
      newReceiver: async (name, receiverName, opts) => {
        const receiver = await streamer.newReceiver(name, receiverName, opts);
        return topic(name) ? this.#counting(receiver) : receiver;
      },
    };
  }

  #counting(receiver: EventReceiver): EventReceiver {
    return {
      recv: async (signal): Promise<Delivery<Event>> => {
        const delivery = await receiver.recv(signal);
        this.now++;
        this.most = Math.max(this.most, this.now);
        let acked = false;
        return {
          event: delivery.event,
          ack: async () => {
            if (!acked) this.now--;
            acked = true;
            await delivery.ack();
          },
        };
      },
      close: () => receiver.close(),
    };
  }
}

/** A one-step workflow whose step counts its starts and waits where `waitAt` says until the test opens it. */
function slowStep(started: { count: number }, waitAt: () => Promise<void>) {
  const b = new Builder<Item, Status>("slow", Status);
  b.addStep(
    Status.Created,
    async (run) => {
      started.count++;
      await waitAt();
      run.object.count++;
      return Status.Done;
    },
    Status.Done,
  );
  return b;
}

test("a slow step holds at most maxPendingItems events un-acked however many runs wait", async () => {
  // The first batch waits at `first` while every run arrives; the second at `second`, by which
  // time the process has taken in all it may.
  const first = gate();
  const second = gate();
  const started = { count: 0 };
  const outstanding = new Outstanding();
  const adapters = memory();
  const wf = slowStep(started, () => (started.count <= 100 ? first.opened : second.opened)).build({
    ...adapters,
    eventStreamer: outstanding.wrap(adapters.eventStreamer, (t) => t === "slow-1"),
  });
  try {
    await wf.run();
    const ids = Array.from({ length: runs }, (_, i) => `run-${i}`);
    const runIds = await Promise.all(ids.map((id) => wf.trigger(id, { initialValue: { id, count: 0 } })));
    await until("the first batch to start", () => started.count === 100);
    first.open();
    await until("the second batch to start", () => started.count === 200);
    assert.equal(started.count, 200, "no step starts beyond the second batch while it is blocked");
    assert.ok(outstanding.now > maxPendingItems / 2, `the process took in events ahead of the step, ${outstanding.now}`);
    second.open();
    const done = await Promise.all(runIds.map((runId, i) => wf.await(ids[i]!, runId, Status.Done)));
    assert.ok(done.every((run) => run.object.count === 1), "every run went through the step once");
    assert.ok(outstanding.most <= maxPendingItems, `at most ${maxPendingItems} events held at once, saw ${outstanding.most}`);
  } finally {
    first.open();
    second.open();
    await wf.stop();
  }
});

/** Entries the server handed to the prefix's consumer groups and has not had acked: held by the receivers or the engine. */
async function pendingEntries(client: ReturnType<typeof redisClient>, prefix: string): Promise<number> {
  let pending = 0;
  let cursor = "0";
  do {
    const [next, keys] = (await client.call("SCAN", cursor, "MATCH", `${prefix}*`, "TYPE", "stream", "COUNT", 1000)) as [string, string[]];
    cursor = next;
    for (const key of keys) {
      const groups = (await client.call("XINFO", "GROUPS", key)) as unknown[][];
      for (const group of groups) pending += Number(group[group.indexOf("pending") + 1]);
    }
  } while (cursor !== "0");
  return pending;
}

test("redis: a slow step's receiver takes no more from the stream than the engine's window and one page", async () => {
  const client = redisClient();
  const prefix = freshPrefix("backpressure");
  const release = gate();
  const started = { count: 0 };
  const adapters = redis({ client, prefix });
  const wf = slowStep(started, () => release.opened).build(adapters);
  let most = 0;
  try {
    await wf.run();
    const ids = Array.from({ length: runs }, (_, i) => `run-${i}`);
    const runIds = await Promise.all(ids.map((id) => wf.trigger(id, { initialValue: { id, count: 0 } })));
    await until("the first batch to start", () => started.count === 100);
    // While the step is blocked the engine takes only what the receiver holds at hand, so it reads
    // a page or two and then nothing more until the engine asks again.
    most = await pendingEntries(client, prefix);
    assert.ok(most >= 100, `the receiver took a page, saw ${most} pending`);
    release.open();
    const watch = (async () => {
      while (started.count < runs) most = Math.max(most, await pendingEntries(client, prefix));
    })();
    await Promise.all(runIds.map((runId, i) => wf.await(ids[i]!, runId, Status.Done)));
    await watch;
    assert.ok(most <= maxPendingItems + 100, `at most the window and one page pending on the server, saw ${most}`);
  } finally {
    release.open();
    await wf.stop();
    await adapters.close();
    await deleteKeys(client, prefix);
    client.disconnect();
  }
});

test("nats: a slow step's receiver and the engine together hold no more un-acked events than max_ack_pending", async () => {
  const connection = await connectNats();
  const { prefix, bucket, removeStreams } = uniquePrefix();
  const release = gate();
  const started = { count: 0 };
  const events = nats({ connection, prefix, roles: { bucket, ttlMs: 1_000 } });
  const wf = slowStep(started, () => release.opened).build({ ...events, recordStore: new MemoryRecordStore(), timeoutStore: new MemoryTimeoutStore(), outbox: true });
  const jsm = await jetstreamManager(connection);
  /** Delivered to the step's consumer and not acked: queued in the receiver or held by the engine. */
  const ackPending = async () => {
    let pending = 0;
    for await (const stream of jsm.streams.names()) {
      if (!stream.startsWith(`${prefix}_`)) continue;
      for (const consumer of await jsm.consumers.list(stream).next()) {
        if (!consumer.name.startsWith("slow-1-consumer")) continue;
        assert.equal(consumer.config.max_ack_pending, maxPendingItems, "the streamer sets the consumer's limit");
        pending += consumer.num_ack_pending;
      }
    }
    return pending;
  };
  let most = 0;
  try {
    await wf.run();
    const ids = Array.from({ length: runs }, (_, i) => `run-${i}`);
    const runIds = await Promise.all(ids.map((id) => wf.trigger(id, { initialValue: { id, count: 0 } })));
    // The first batch holds whatever had arrived when it started; with its steps blocked, the
    // receiver keeps taking events until the consumer's limit stops the server sending more.
    await until("the first batch to start", () => started.count > 0, 30_000);
    await until("the server to stop at the consumer's limit", async () => (most = await ackPending()) >= maxPendingItems, 30_000);
    release.open();
    const watch = (async () => {
      while (started.count < runs) most = Math.max(most, await ackPending());
    })();
    await Promise.all(runIds.map((runId, i) => wf.await(ids[i]!, runId, Status.Done)));
    await watch;
    // The client asks for more whenever the receiver took what came, so the receiver's queue fills
    // until the consumer's max_ack_pending, which the streamer sets to this window, stops it.
    assert.ok(most <= maxPendingItems, `at most the consumer's max_ack_pending un-acked on the server, saw ${most}`);
  } finally {
    release.open();
    await wf.stop();
    await events.close();
    await removeStreams(connection);
    await connection.close();
  }
});
