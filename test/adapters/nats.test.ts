import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import { bundleCases, eventStreamerCases, roleSchedulerCases } from "stepwise/adaptertest";
import { JetStreamUnavailableError, nats, NatsEventStreamer, NatsRoleScheduler } from "stepwise/nats";
import { PostgresRecordStore, PostgresTimeoutStore } from "stepwise/postgres";
import { connectNats, uniquePrefix } from "../support/nats.js";
import { freshSchema } from "../support/postgres.js";
import { failingRunDoesNotBlock, lineRunsComplete } from "../support/end-to-end.js";

const { prefix, bucket, removeStreams } = uniquePrefix();
let connection: NatsConnection;
/** A second client, for what "someone else" does to the server. */
let other: NatsConnection;
/** The connection of each scheduler standing in for a process. */
const memberConnections = new Map<NatsRoleScheduler, NatsConnection>();

before(async () => {
  [connection, other] = await Promise.all([connectNats(), connectNats()]);
});
after(async () => {
  await removeStreams(connection);
  await Promise.all([connection.close(), other.close(), ...[...memberConnections.values()].map((own) => own.close())]);
});

const streamer = (ackWaitMs = 30_000) => new NatsEventStreamer({ connection, prefix, ackWaitMs });

for (const c of eventStreamerCases(async () => streamer())) test(`nats: ${c.name}`, c.run);
for (const c of bundleCases(async () => nats({ connection, prefix, roles: { bucket, ttlMs: 1_000 } }), async () => {
  assert.equal(connection.isClosed(), false);
  await connection.flush();
})) {
  test(`nats: ${c.name}`, c.run);
}
for (const c of roleSchedulerCases(async () => new NatsRoleScheduler({ connection, bucket, ttlMs: 1_000 }), {
  // Another client deleting the key is how a lease is lost here (as when it expired): the holder's
  // next renewal finds another revision.
  loseLease: async (_scheduler, role) => {
    const kv = await new Kvm(other).open(bucket);
    await kv.purge(role);
  },
  // Enough rounds for a leak to show, few enough that a server round trip per await stays cheap.
  leakRounds: 200,
  spread: {
    // A connection per scheduler, as each process has its own.
    makeMembers: async (count) => {
      const connections = await Promise.all(Array.from({ length: count }, () => connectNats()));
      return connections.map((own) => {
        const scheduler = new NatsRoleScheduler({ connection: own, bucket, ttlMs: 1_000 });
        memberConnections.set(scheduler, own);
        return scheduler;
      });
    },
    // A closed connection renews nothing and deletes nothing, as a process that died.
    crash: async (scheduler) => memberConnections.get(scheduler)?.close(),
    takeoverMs: 2_000,
    diagnostic: (message) => console.log(`nats: ${message}`),
  },
})) {
  test(`nats: ${c.name}`, c.run);
}

test("nats: an event left un-acked by a closed receiver comes back to the next receiver of its name at once", async () => {
  const s = streamer();
  const topic = "redelivery-1";
  const sender = await s.newSender(topic);
  const first = await s.newReceiver(topic, "worker");
  await sender.send("a", 1, { k: "v" });
  const signal = AbortSignal.timeout(5_000);
  const taken = await first.recv(signal);
  await first.close();
  const second = await s.newReceiver(topic, "worker");
  const again = await second.recv(signal);
  assert.equal(again.event.id, taken.event.id);
  assert.deepEqual({ ...again.event.headers }, { k: "v" });
  await again.ack();
  await second.close();
});

test("nats: an ephemeral receiver's consumer is deleted when it closes", async () => {
  const s = streamer();
  const topic = "ephemeral-1";
  const { stream } = s.address(topic);
  const jsm = await jetstreamManager(connection);
  const consumerNames = async () => (await jsm.consumers.list(stream).next()).map((c) => c.name);
  const receiver = await s.newReceiver(topic, "await", { ephemeral: true, streamFromLatest: true });
  const during = await consumerNames();
  assert.equal(during.length, 1, "an open ephemeral receiver has one consumer");
  const [consumer] = during;
  const info = await jsm.consumers.info(stream, consumer ?? "");
  assert.equal(info.config.durable_name, undefined, "it is not durable");
  assert.ok((info.config.inactive_threshold ?? 0) > 0, "the server deletes it if its process dies");
  await receiver.close();
  assert.deepEqual(await consumerNames(), [], "no consumer remains once it closed");
});

test("nats: an event held by a receiver whose process died comes back once the ack wait is over", async () => {
  const ackWaitMs = 1_000;
  const doomed = await connectNats();
  const topic = "crash-1";
  const dying = new NatsEventStreamer({ connection: doomed, prefix, ackWaitMs });
  const receiver = await dying.newReceiver(topic, "worker");
  await (await streamer(ackWaitMs).newSender(topic)).send("held", 1, {});
  const held = await receiver.recv(AbortSignal.timeout(5_000));
  // Gone without close(): nothing hands the event back, as after SIGKILL.
  await doomed.close();

  const survivor = await streamer(ackWaitMs).newReceiver(topic, "worker");
  const again = await survivor.recv(AbortSignal.timeout(10 * ackWaitMs));
  assert.equal(again.event.id, held.event.id);
  assert.equal(again.event.foreignId, "held");
  await again.ack();
  await survivor.close();
});

test("nats: topics with characters NATS forbids in subjects map to distinct subjects and work", async () => {
  const s = streamer();
  const topics = ["my flow.v2-*", "my flow.v2->", "ünïcode/flow-1", "plain"];
  const subjects = new Set(topics.map((t) => s.address(t).subject));
  assert.equal(subjects.size, topics.length);
  for (const topic of topics) {
    const receiver = await s.newReceiver(topic, "a name.with dots*");
    await (await s.newSender(topic)).send(topic, 3, {});
    const { event, ack } = await receiver.recv(AbortSignal.timeout(5_000));
    assert.equal(event.foreignId, topic);
    await ack();
    await receiver.close();
  }
});

test("nats: a message on a topic's subject that is not a stepwise event is skipped", async () => {
  const s = streamer();
  const topic = "foreign-1";
  const receiver = await s.newReceiver(topic, "reader");
  try {
    await jetstream(connection).publish(s.address(topic).subject, "not json");
    await (await s.newSender(topic)).send("real", 1, {});
    const { event, ack } = await receiver.recv(AbortSignal.timeout(5_000));
    assert.equal(event.foreignId, "real");
    await ack();
  } finally {
    await receiver.close();
  }
});

test("nats: a closed connection gives JetStreamUnavailableError from the streamer and the scheduler", async () => {
  const closed = await connectNats();
  await closed.close();
  const s = new NatsEventStreamer({ connection: closed, prefix });
  await assert.rejects(s.newSender("closed-1"), (err: JetStreamUnavailableError) => {
    return err.code === "JETSTREAM_UNAVAILABLE" && /connection is closed/.test(err.message);
  });
  await assert.rejects(s.newReceiver("closed-1", "r"), JetStreamUnavailableError);
  const roles = new NatsRoleScheduler({ connection: closed, bucket });
  await assert.rejects(roles.await("closed-role", AbortSignal.timeout(5_000)), JetStreamUnavailableError);
});

test("nats: 300 runs of a three-step workflow over two shards, records on Postgres, events and roles on NATS, each complete", async () => {
  const db = await freshSchema();
  try {
    const adapters = {
      ...nats({ connection, prefix, roles: { bucket, ttlMs: 1_000 } }),
      recordStore: new PostgresRecordStore({ pool: db.pool, schema: db.schema }),
      timeoutStore: new PostgresTimeoutStore({ pool: db.pool, schema: db.schema }),
    };
    await lineRunsComplete(adapters, { runs: 300, name: "natsline", outbox: true });
    await failingRunDoesNotBlock(adapters, "nats-head-of-line");
    // One event per stored version reached the stream: the server dropped any outbox event sent twice.
    // (A name of letters only keeps its topics, and so the stream and subjects, readable here.)
    const info = await jetstreamManager(connection).then((jsm) => jsm.streams.info(`${prefix}_natsline`, { subjects_filter: ">" }));
    for (const part of ["1", "2", "3", "run-state-change"]) assert.equal(info.state.subjects?.[`${prefix}.natsline.${part}`], 300, `events on ${part}`);
  } finally {
    await db.drop();
  }
});
