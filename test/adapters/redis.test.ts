import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { Redis } from "ioredis";
import { RunState, topic, WorkflowInProgressError, type Record } from "stepwise";
import { bundleCases, eventStreamerCases, makeRecord, recordStoreCases, roleSchedulerCases, timeoutStoreCases } from "stepwise/adaptertest";
import { PostgresRecordStore, PostgresTimeoutStore } from "stepwise/postgres";
import { redis, RedisCommandError, RedisEventStreamer, RedisRecordStore, RedisRoleScheduler, RedisTimeoutStore } from "stepwise/redis";
import { freshSchema } from "../support/postgres.js";
import { trimAfterAcks } from "../support/retention.js";
import { deleteKeys, freePort, freshPrefix, killConnections, privateRedisServer, redisClient } from "../support/redis.js";
import { until } from "../support/until.js";
import { failingRunDoesNotBlock, lineRunsComplete } from "../support/end-to-end.js";
import { lineWorkflowOn, Status } from "../support/workflows.js";
import { errorsTo, quietLogger } from "../support/logger.js";

const client = redisClient();
const prefix = freshPrefix("adapter");
/** The client of each scheduler standing in for a process. */
const memberClients = new Map<RedisRoleScheduler, Redis>();
after(async () => {
  for (const own of memberClients.values()) own.disconnect();
  await deleteKeys(client, prefix);
  await client.quit();
});

/** A bound for waits in the cases below; they end much sooner when the adapter works. */
const waitMs = 10_000;

for (const c of eventStreamerCases(async () => new RedisEventStreamer({ client, prefix }))) test(`redis: ${c.name}`, c.run);
for (const c of recordStoreCases(async () => new RedisRecordStore({ client, prefix }))) test(`redis: ${c.name}`, c.run);
for (const c of timeoutStoreCases(async () => new RedisTimeoutStore({ client, prefix }))) test(`redis: ${c.name}`, c.run);
for (const c of bundleCases(async () => redis({ client, prefix }), async () => assert.equal(await client.ping(), "PONG"))) test(`redis: ${c.name}`, c.run);
for (const c of roleSchedulerCases(async () => new RedisRoleScheduler({ client, prefix, ttlMs: 1000 }), {
  // A lease is lost when its key goes away (evicted, expired during a stall, deleted by hand).
  loseLease: async (scheduler, role) => {
    await client.del(scheduler.roleKey(role));
  },
  // Enough rounds for a leak to show, few enough that a server round trip per await stays cheap.
  leakRounds: 200,
  spread: {
    // A client per scheduler, as each process has its own.
    makeMembers: async (count) =>
      Array.from({ length: count }, () => {
        const own = redisClient();
        const scheduler = new RedisRoleScheduler({ client: own, prefix, ttlMs: 1000 });
        memberClients.set(scheduler, own);
        return scheduler;
      }),
    // A disconnected client renews nothing and releases nothing, as a process that died.
    crash: async (scheduler) => memberClients.get(scheduler)?.disconnect(),
    takeoverMs: 2000,
    diagnostic: (message) => console.log(`redis: ${message}`),
  },
})) {
  test(`redis: ${c.name}`, c.run);
}

test('redis: with events "stream" a store appends its event to the topic\'s stream as a sender would, and a refused store appends none', async () => {
  const streamer = new RedisEventStreamer({ client, prefix });
  const store = new RedisRecordStore({ client, prefix, events: "stream" });
  const record = makeRecord();
  const receiver = await streamer.newReceiver(topic(record.workflowName, record.status), "group");
  try {
    await store.store(record);
    const { event, ack } = await receiver.recv(AbortSignal.timeout(waitMs));
    await ack();
    assert.equal(event.foreignId, record.foreignId);
    assert.equal(event.type, record.status);
    assert.equal(event.headers.run_id, record.runId);
    assert.equal(event.headers.record_version, "1");
    assert.deepEqual(await store.listOutboxEvents(record.workflowName, 10), [], "no outbox event");

    await assert.rejects(store.store(record), { code: "VERSION_CONFLICT" });
    await assert.rejects(store.store(makeRecord({ workflowName: record.workflowName, foreignId: record.foreignId })), { code: "WORKFLOW_IN_PROGRESS" });
    const key = streamer.streamKey(topic(record.workflowName, record.status));
    assert.equal(await client.xlen(key), 1, "refused stores append no event");
  } finally {
    await receiver.close();
  }
});

test("redis: list pages and filters correctly across many runs with tied creation times", { timeout: 30_000 }, async () => {
  const store = new RedisRecordStore({ client, prefix });
  const workflowName = `many-${Date.now()}`;
  const t0 = Date.parse("2026-01-01T00:00:00Z");
  // 1,300 runs, four to a millisecond, in three statuses and two run states: several listing steps on the server.
  const runs = Array.from({ length: 1300 }, (_, i) =>
    makeRecord({ workflowName, status: (i % 3) + 1, runState: i % 2 === 0 ? RunState.Running : RunState.Completed, createdAt: new Date(t0 + Math.floor(i / 4)) }),
  );
  await Promise.all(runs.map((r) => store.store(r)));
  const ids = (records: Record[]) => records.map((r) => r.runId);
  const want = (records: Record[], order: "asc" | "desc", offset: number, limit: number) =>
    ids((order === "asc" ? records : [...records].reverse()).slice(offset, offset + limit));

  assert.deepEqual(ids(await store.list({ workflowName, limit: 600, offset: 650 })), want(runs, "asc", 650, 600), "no filter, asc");
  assert.deepEqual(ids(await store.list({ workflowName, limit: 600, offset: 650, order: "desc" })), want(runs, "desc", 650, 600), "no filter, desc");
  const status2 = runs.filter((r) => r.status === 2);
  assert.deepEqual(ids(await store.list({ workflowName, limit: 1000, offset: 30, filter: { status: [2] } })), want(status2, "asc", 30, 1000), "by status");
  const window = { createdAfter: new Date(t0 + 10), createdBefore: new Date(t0 + 300) };
  const inWindow = runs.filter((r) => r.createdAt > window.createdAfter && r.createdAt < window.createdBefore);
  assert.deepEqual(ids(await store.list({ workflowName, limit: 100, offset: 500, filter: window })), want(inWindow, "asc", 500, 100), "a window, asc");
  assert.deepEqual(ids(await store.list({ workflowName, limit: 200, offset: 7, order: "desc", filter: window })), want(inWindow, "desc", 7, 200), "a window, desc");
  const running3 = inWindow.filter((r) => r.status === 3 && r.runState === RunState.Running);
  assert.deepEqual(
    ids(await store.list({ workflowName, limit: 50, offset: 20, order: "desc", filter: { ...window, status: [3], runState: [RunState.Running] } })),
    want(running3, "desc", 20, 50),
    "a window, a status and a run state, desc",
  );
  // Foreign ids chosen out of creation order, some with tied creation times.
  const picked = [runs[900], runs[3], runs[41], runs[40], runs[42], runs[600]] as Record[];
  const byForeignId = runs.filter((r) => picked.includes(r));
  const foreignId = picked.map((r) => r.foreignId);
  assert.deepEqual(ids(await store.list({ workflowName, limit: 10, filter: { foreignId } })), want(byForeignId, "asc", 0, 10), "by foreign id");
  assert.deepEqual(
    ids(await store.list({ workflowName, limit: 2, offset: 1, order: "desc", filter: { foreignId, runState: [RunState.Running], ...window } })),
    want(byForeignId.filter((r) => r.runState === RunState.Running && r.createdAt > window.createdAfter && r.createdAt < window.createdBefore), "desc", 1, 2),
    "by foreign id, run state and window, desc",
  );
});

test("redis: the timeout store keeps the index of the status's timeout", async () => {
  const store = new RedisTimeoutStore({ client, prefix });
  const workflowName = `indexed-${Date.now()}`;
  const expireAt = new Date("2026-01-01T00:00:00Z");
  await store.create({ workflowName, foreignId: "f", runId: "r-2", status: 1, index: 2, expireAt });
  await store.create({ workflowName, foreignId: "f", runId: "r-0", status: 1, expireAt });
  const listed = await store.listValid(workflowName, 1, expireAt);
  assert.deepEqual(listed.map((t) => [t.runId, t.index]), [["r-2", 2], ["r-0", 0]]);
});

test("redis: a run hash written before stepwise kept the workflow version reads as version 1, and takes one on its next write", async () => {
  const store = new RedisRecordStore({ client, prefix });
  const record = makeRecord({ workflowName: `unversioned-${Date.now()}` });
  await store.store(record);
  // What an older stepwise left: the same hash without the "x" field.
  await client.hdel(`${prefix}run:${record.runId}`, "x");
  const old = await store.lookup(record.runId);
  assert.equal(old.meta.workflowVersion, 1);
  await store.store({ ...old, meta: { ...old.meta, version: 2, workflowVersion: 2 } });
  assert.equal((await store.lookup(record.runId)).meta.workflowVersion, 2);
});

test("redis: 200 runs of a three-step workflow on redis({ client }) alone all complete at version 4, each step once", { timeout: 60_000 }, async () => {
  const adapters = redis({ client, prefix });
  try {
    const runs = 200;
    await lineRunsComplete(adapters, { runs, name: "redis-all", outbox: false, timeoutMs: 50_000 });
    const stored = await adapters.recordStore.list({ workflowName: "redis-all", limit: 1000, filter: { runState: [RunState.Completed] } });
    assert.equal(stored.length, runs, "the record store lists every completed run");
    await failingRunDoesNotBlock(adapters, "redis-all-head-of-line");
  } finally {
    await adapters.close();
  }
});

test("redis: 20 concurrent triggers of one foreign id on redis({ client }) create exactly one run", async () => {
  const adapters = redis({ client, prefix });
  const { wf } = lineWorkflowOn(adapters, { name: "redis-once" });
  try {
    await wf.run();
    const results = await Promise.allSettled(Array.from({ length: 20 }, () => wf.trigger("same", { initialValue: { id: "same", count: 0 } })));
    const refused = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
    assert.equal(results.length - refused.length, 1, "one trigger creates a run");
    for (const r of refused) assert.ok(r.reason instanceof WorkflowInProgressError, String(r.reason));
    const runs = await adapters.recordStore.list({ workflowName: "redis-once", limit: 100, filter: { foreignId: ["same"] } });
    assert.equal(runs.length, 1);
  } finally {
    await wf.stop();
    await adapters.close();
  }
});

test("redis: un-acked events come again, in order and with their ids, to the next receiver of the name after a close", async () => {
  const streamer = new RedisEventStreamer({ client, prefix });
  const topic = `pending-${Date.now()}`;
  const sender = await streamer.newSender(topic);
  const first = await streamer.newReceiver(topic, "group");
  for (const id of ["a", "b", "c"]) await sender.send(id, 1, {});
  const a = await first.recv(AbortSignal.timeout(waitMs));
  await a.ack();
  const b = await first.recv(AbortSignal.timeout(waitMs));
  const c = await first.recv(AbortSignal.timeout(waitMs));
  await first.close(); // b and c were handed out, never acked

  const second = await streamer.newReceiver(topic, "group");
  await sender.send("d", 1, {});
  const again = [];
  for (let i = 0; i < 3; i++) {
    const delivery = await second.recv(AbortSignal.timeout(waitMs));
    again.push(delivery.event);
    await delivery.ack();
  }
  assert.deepEqual(
    again.map((e) => [e.foreignId, e.id]),
    [
      ["b", b.event.id],
      ["c", c.event.id],
      ["d", again[2]?.id],
    ],
  );
  await second.close();
  const pending = (await client.call("XPENDING", streamer.streamKey(topic), "group")) as [number, ...unknown[]];
  assert.equal(Number(pending[0]), 0, "every event is acked once the receiver closed");
});

test("redis: an ephemeral receiver's consumer group is destroyed when it closes", async () => {
  const streamer = new RedisEventStreamer({ client, prefix });
  const topic = `ephemeral-${Date.now()}`;
  const key = streamer.streamKey(topic);
  const durable = await streamer.newReceiver(topic, "durable");
  const receiver = await streamer.newReceiver(topic, "await", { ephemeral: true, streamFromLatest: true });
  const groups = async () => ((await client.call("XINFO", "GROUPS", key)) as unknown[][]).length;
  assert.equal(await groups(), 2, "an open ephemeral receiver has a group of its own");
  await receiver.close();
  assert.equal(await groups(), 1, "only the durable receiver's group remains once the ephemeral one closed");
  await durable.close();
});

test("redis: retention trims the entries every durable group passed and keeps those one has not reached", async () => {
  const streamer = new RedisEventStreamer({ client, prefix, retention: { intervalMs: 0 } });
  const topic = `retention-${Date.now()}`;
  const key = streamer.streamKey(topic);
  // Closing sends a receiver's acks, then trims: fast's trim finds slow's group at the start.
  const left = await trimAfterAcks(
    streamer,
    topic,
    async ({ fast, slow }) => (await fast.close(), await slow.close()),
    async () => (await client.xrange(key, "-", "+")).map(([, fields]) => fields[1] ?? ""),
  );
  assert.deepEqual(left, ["b", "c"], "a went once both groups passed it; the rest waits for slow; the ephemeral group holds nothing");
});

test("redis: retention trims entries older than maxAgeMs (7 days by default), read or not", async () => {
  const streamer = new RedisEventStreamer({ client, prefix });
  const topic = `retention-age-${Date.now()}`;
  const key = streamer.streamKey(topic);
  // An entry stored long ago: its id is the time the server stored it.
  await client.call("XADD", key, "1-1", "foreign_id", "old", "type", "1", "headers", "{}", "created_at", "1");
  const reader = await streamer.newReceiver(topic, "reader");
  const idle = await streamer.newReceiver(topic, "idle"); // never reads: only the age limit trims what it has not read
  try {
    await (await streamer.newSender(topic)).send("new", 1, {});
    const signal = AbortSignal.timeout(waitMs);
    for (let i = 0; i < 2; i++) await (await reader.recv(signal)).ack();
    await reader.close();
    const left = (await client.xrange(key, "-", "+")).map(([, fields]) => fields[1]);
    assert.deepEqual(left, ["new"], "the entry older than 7 days went although idle never read it");
  } finally {
    await Promise.all([reader.close(), idle.close()]);
  }
});

test("redis: an entry whose created_at is missing or unreadable is dated by its stream id", async () => {
  const streamer = new RedisEventStreamer({ client, prefix });
  const topic = `junk-time-${Date.now()}`;
  const key = streamer.streamKey(topic);
  // Recent, so that retention's age limit leaves them alone.
  const ms = Date.now() - 10_000;
  await client.call("XADD", key, `${ms}-1`, "foreign_id", "junk", "type", "1", "headers", "{}", "created_at", "yesterday");
  await client.call("XADD", key, `${ms + 1}-1`, "foreign_id", "bare", "type", "1", "headers", "{}");
  await client.call("XADD", key, `${ms + 2}-1`, "foreign_id", "kept", "type", "1", "headers", "{}", "created_at", String(ms - 60_000));
  const receiver = await streamer.newReceiver(topic, "reader");
  try {
    const signal = AbortSignal.timeout(waitMs);
    const seen: [string, number][] = [];
    for (let i = 0; i < 3; i++) {
      const { event, ack } = await receiver.recv(signal);
      seen.push([event.foreignId, event.createdAt.getTime()]);
      await ack();
    }
    assert.deepEqual(seen, [["junk", ms], ["bare", ms + 1], ["kept", ms - 60_000]], "an entry's own readable time is kept");
  } finally {
    await receiver.close();
  }
});

test("redis: after a crash (the receiver's connections die un-closed) the next receiver of the name gets the un-acked events", async () => {
  const name = `crashing-${Date.now()}`;
  // No reconnecting: once killed, this client and its duplicates are gone, as with a dead process.
  const crashing = redisClient({ connectionName: name, retryStrategy: () => null });
  const streamer = new RedisEventStreamer({ client, prefix });
  const topic = `crash-${Date.now()}`;
  const doomed = await new RedisEventStreamer({ client: crashing, prefix }).newReceiver(topic, "group");
  const sender = await streamer.newSender(topic);
  await sender.send("a", 1, {});
  await sender.send("b", 1, {});
  const a = await doomed.recv(AbortSignal.timeout(waitMs));
  assert.equal(a.event.foreignId, "a");
  assert.ok((await killConnections(client, name)) >= 2, "the client and the receiver's own connection are killed");

  const next = await streamer.newReceiver(topic, "group");
  const redelivered = await next.recv(AbortSignal.timeout(waitMs));
  assert.equal(redelivered.event.foreignId, "a");
  assert.equal(redelivered.event.id, a.event.id);
  await redelivered.ack();
  const b = await next.recv(AbortSignal.timeout(waitMs));
  assert.equal(b.event.foreignId, "b");
  await b.ack();
  await next.close();
  await doomed.close();
});

test("redis: a receiver whose connection is killed while it waits reconnects and gets the next event", async () => {
  const name = `reconnecting-${Date.now()}`;
  const reconnecting = redisClient({ connectionName: name });
  try {
    const topic = `reconnect-${Date.now()}`;
    const receiver = await new RedisEventStreamer({ client: reconnecting, prefix }).newReceiver(topic, "group");
    const waiting = receiver.recv(AbortSignal.timeout(waitMs));
    await until("the receiver to block on the server", async () => (await clientFlags(name)).includes("b"));
    assert.ok((await killConnections(client, name)) >= 1);
    await (await new RedisEventStreamer({ client, prefix }).newSender(topic)).send("after-kill", 1, {});
    const { event, ack } = await waiting;
    assert.equal(event.foreignId, "after-kill");
    await ack();
    await receiver.close();
  } finally {
    reconnecting.disconnect();
  }
});

test("redis: a receiver whose stream was deleted (a restart without data) makes its group again and gets what is sent next", async () => {
  const streamer = new RedisEventStreamer({ client, prefix, blockMs: 200 });
  const topic = `lost-${Date.now()}`;
  const receiver = await streamer.newReceiver(topic, "group", { streamFromLatest: true });
  try {
    const waiting = receiver.recv(AbortSignal.timeout(waitMs));
    await client.del(streamer.streamKey(topic));
    await (await streamer.newSender(topic)).send("after-loss", 1, {});
    const { event, ack } = await waiting;
    assert.equal(event.foreignId, "after-loss");
    await ack();
  } finally {
    await receiver.close();
  }
});

test("redis: the streamer reads every reply shape ioredis gives: RESP2, and RESP3 with either reply mapping", async () => {
  const clients = [redisClient({ protocol: 2 }), redisClient({ protocol: 3 }), new Redis({ host: "127.0.0.1", port: Number(process.env.REDIS_PORT ?? 6379), replyMapping: "resp3" })];
  try {
    for (const [i, shaped] of clients.entries()) {
      const streamer = new RedisEventStreamer({ client: shaped, prefix });
      const topic = `shapes-${i}-${Date.now()}`;
      const receiver = await streamer.newReceiver(topic, "group");
      await (await streamer.newSender(topic)).send("f", 3, { k: "v" });
      const { event, ack } = await receiver.recv(AbortSignal.timeout(waitMs));
      assert.deepEqual([event.foreignId, event.type, { ...event.headers }], ["f", 3, { k: "v" }], `client ${i}`);
      await ack();
      await receiver.close();
    }
  } finally {
    for (const c of clients) c.disconnect();
  }
});

test("redis: an entry deleted while pending is skipped and taken off the pending list", async () => {
  const streamer = new RedisEventStreamer({ client, prefix });
  const topic = `deleted-${Date.now()}`;
  const sender = await streamer.newSender(topic);
  const first = await streamer.newReceiver(topic, "group");
  await sender.send("a", 1, {});
  await sender.send("b", 1, {});
  const a = await first.recv(AbortSignal.timeout(waitMs));
  await first.close();
  await client.xdel(streamer.streamKey(topic), a.event.id);

  const second = await streamer.newReceiver(topic, "group");
  const b = await second.recv(AbortSignal.timeout(waitMs));
  assert.equal(b.event.foreignId, "b");
  await b.ack();
  await second.close();
  const pending = (await client.call("XPENDING", streamer.streamKey(topic), "group")) as [number, ...unknown[]];
  assert.equal(Number(pending[0]), 0);
});

test("redis: maxLen trims each stream to about that many entries", async () => {
  const streamer = new RedisEventStreamer({ client, prefix, maxLen: 100 });
  const topic = `trimmed-${Date.now()}`;
  const sender = await streamer.newSender(topic);
  for (let i = 0; i < 500; i++) await sender.send(`f-${i}`, 1, {});
  const length = await client.xlen(streamer.streamKey(topic));
  assert.ok(length >= 100 && length < 500, `stream length ${length}`);
});

test("redis: a lease whose key another holder took aborts, and its release leaves the new holder's key alone", async () => {
  const scheduler = new RedisRoleScheduler({ client, prefix, ttlMs: 300 });
  const role = `fenced-${Date.now()}`;
  const lease = await scheduler.await(role, AbortSignal.timeout(waitMs));
  await client.set(scheduler.roleKey(role), "someone-else", "PX", 10_000);
  await until("the lease to notice it lost its key", () => lease.signal.aborted);
  await lease.release();
  assert.equal(await client.get(scheduler.roleKey(role)), "someone-else");
  await client.del(scheduler.roleKey(role));
});

test("redis: a holder that stops renewing (its connection is gone) loses the role to another scheduler", async (t) => {
  const name = `stalled-${Date.now()}`;
  const stalling = redisClient({ connectionName: name, retryStrategy: () => null, maxRetriesPerRequest: 0 });
  const role = `takeover-${Date.now()}`;
  const ttlMs = 500;
  const holder = await new RedisRoleScheduler({ client: stalling, prefix, ttlMs }).await(role, AbortSignal.timeout(waitMs));
  const other = new RedisRoleScheduler({ client, prefix, ttlMs });
  const taking = other.await(role, AbortSignal.timeout(waitMs));
  await killConnections(client, name);
  const startedMs = Date.now();
  await until("the stalled holder's lease to abort", () => holder.signal.aborted);
  const lease = await taking;
  t.diagnostic(`took over ${Date.now() - startedMs} ms after the holder's connection was killed (lease TTL ${ttlMs} ms)`);
  assert.equal(lease.signal.aborted, false);
  await lease.release();
  await holder.release();
});

test("redis: an unreachable server gives clear errors from the streamer and the scheduler", async () => {
  const port = await freePort();
  const down = redisClient({ port, maxRetriesPerRequest: 0, retryStrategy: () => null });
  try {
    const streamer = new RedisEventStreamer({ client: down, prefix });
    const isRedisError = (command: string) => (err: unknown) =>
      err instanceof RedisCommandError && err.code === "REDIS_COMMAND" && err.command === command && err.message.startsWith(`redis: ${command}`);
    await assert.rejects(streamer.newReceiver("t", "g"), isRedisError("XGROUP CREATE"));
    await assert.rejects((await streamer.newSender("t")).send("f", 1, {}), isRedisError("XADD"));
    const scheduler = new RedisRoleScheduler({ client: down, prefix });
    await assert.rejects(scheduler.await("r", AbortSignal.timeout(waitMs)), isRedisError("EVAL"));
  } finally {
    down.disconnect();
  }
});

test("redis: a workflow on an unreachable Redis logs clear errors and keeps trying, without crashing", async () => {
  const db = await freshSchema({ max: 5 });
  const port = await freePort();
  const down = redisClient({ port, maxRetriesPerRequest: 0 });
  const errors: unknown[] = [];
  try {
    const { wf } = lineWorkflowOn(
      { ...redis({ client: down, prefix }), recordStore: new PostgresRecordStore({ pool: db.pool, schema: db.schema }), outbox: true },
      { name: "redis-down", stepOptions: { errBackOff: 20 }, config: { defaultOptions: { errBackOff: 20 }, logger: errorsTo(errors) } },
    );
    await wf.run();
    await wf.trigger("item-1", { initialValue: { id: "item-1", count: 0 } });
    await until("the workflow's processes to fail a few times each", () => errors.length >= 10, waitMs);
    await wf.stop();
    assert.ok(errors.every((err) => err instanceof RedisCommandError), "every error names the Redis command that failed");
  } finally {
    down.disconnect();
    await db.drop();
  }
});

test("redis: while the server is down, an await rejects as soon as its signal aborts and a workflow stops promptly", async () => {
  const port = await freePort();
  // The client's defaults: commands wait in its offline queue through 20 reconnection attempts.
  const down = redisClient({ port });
  const db = await freshSchema({ max: 5 });
  try {
    const controller = new AbortController();
    const waiting = new RedisRoleScheduler({ client: down, prefix }).await("r", controller.signal);
    const reason = new Error("stop waiting");
    controller.abort(reason);
    await assert.rejects(waiting, (err) => err === reason);

    const { wf } = lineWorkflowOn(
      { ...redis({ client: down, prefix }), recordStore: new PostgresRecordStore({ pool: db.pool, schema: db.schema }), outbox: true },
      { name: "redis-down-stop", config: { logger: quietLogger } },
    );
    await wf.run();
    const stopping = wf.stop();
    const limit = AbortSignal.timeout(waitMs);
    await untilSignal(stopping, limit);
  } finally {
    down.disconnect();
    await db.drop();
  }
});

test("redis: 300 runs of a three-step workflow with records in PostgreSQL and events and roles on Redis all complete, each step once", { timeout: 60_000 }, async () => {
  const db = await freshSchema({ max: 10 });
  try {
    const adapters = {
      ...redis({ client, prefix }),
      recordStore: new PostgresRecordStore({ pool: db.pool, schema: db.schema }),
      timeoutStore: new PostgresTimeoutStore({ pool: db.pool, schema: db.schema }),
      outbox: true,
    };
    await lineRunsComplete(adapters, { runs: 300, name: "redis-line", outbox: true, timeoutMs: 50_000 });
    await failingRunDoesNotBlock(adapters, "redis-head-of-line");
  } finally {
    await db.drop();
  }
});

test("redis: connections killed by the server mid-run are reopened and every run completes once", { timeout: 60_000 }, async () => {
  const db = await freshSchema({ max: 10 });
  const name = `fault-${Date.now()}`;
  const faulty = redisClient({ connectionName: name });
  const errors: unknown[] = [];
  try {
    const { wf } = lineWorkflowOn(
      { ...redis({ client: faulty, prefix, ttlMs: 1000 }), recordStore: new PostgresRecordStore({ pool: db.pool, schema: db.schema }), outbox: true },
      { name: "redis-fault", stepOptions: { parallelCount: 2, errBackOff: 20 }, config: { logger: errorsTo(errors) } },
    );
    await wf.run();
    const runs = 300;
    const completed = async () =>
      Number((await db.pool.query(`SELECT count(*) FROM "${db.schema}".stepwise_records WHERE run_state = $1`, [RunState.Completed])).rows[0].count);
    let killed = 0;
    for (let i = 0; i < runs; i++) {
      await wf.trigger(`item-${i}`, { initialValue: { id: `item-${i}`, count: 0 } });
      // Every 60 triggers, end every connection the workflow has on Redis, whatever each is doing.
      if (i % 60 === 30) killed += await killConnections(client, name);
    }
    await until("every run to complete despite the killed connections", async () => (await completed()) === runs, 50_000);
    assert.ok(killed >= 5, `connections were killed (${killed})`);
    const { rows } = await db.pool.query(`SELECT status, version FROM "${db.schema}".stepwise_records`);
    assert.equal(rows.length, runs);
    for (const row of rows) {
      assert.equal(row.status, Status.Done);
      assert.equal(row.version, 4, "no repeated transition");
    }
    await wf.stop();
  } finally {
    faulty.disconnect();
    await db.drop();
  }
});

test("redis: a workflow started while its server is down runs once it is up, and survives a restart mid-run (same data dir)", { timeout: 60_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), "stepwise-redis-"));
  const port = await freePort();
  const server = privateRedisServer(port, dir);
  const own = redisClient({ port });
  const db = await freshSchema({ max: 10 });
  const { wf } = lineWorkflowOn(
    { ...redis({ client: own, ttlMs: 1000 }), recordStore: new PostgresRecordStore({ pool: db.pool, schema: db.schema }), outbox: true },
    { name: "redis-restart", stepOptions: { parallelCount: 2, errBackOff: 20 }, config: { defaultOptions: { errBackOff: 20 }, logger: quietLogger } },
  );
  try {
    await wf.run(); // no server yet: every process waits or backs off
    const runs = 200;
    const completed = async () =>
      Number((await db.pool.query(`SELECT count(*) FROM "${db.schema}".stepwise_records WHERE run_state = $1`, [RunState.Completed])).rows[0].count);
    for (let i = 0; i < runs / 2; i++) await wf.trigger(`item-${i}`, { initialValue: { id: `item-${i}`, count: 0 } });
    await server.start();
    await until("runs to complete once the server is up", async () => (await completed()) >= runs / 4, 30_000);
    await server.stop();
    for (let i = runs / 2; i < runs; i++) await wf.trigger(`item-${i}`, { initialValue: { id: `item-${i}`, count: 0 } });
    await server.start();
    await until("every run to complete after the restart", async () => (await completed()) === runs, 40_000);
    const { rows } = await db.pool.query(`SELECT status, version FROM "${db.schema}".stepwise_records`);
    assert.equal(rows.length, runs);
    for (const row of rows) {
      assert.equal(row.status, Status.Done);
      assert.equal(row.version, 4);
    }
  } finally {
    await wf.stop();
    own.disconnect();
    await server.stop();
    await rm(dir, { recursive: true, force: true });
    await db.drop();
  }
});

/** Awaits `work`, failing once `limit` aborts first. */
async function untilSignal(work: Promise<unknown>, limit: AbortSignal): Promise<void> {
  await Promise.race([
    work,
    new Promise((_, reject) => limit.addEventListener("abort", () => reject(new Error("gave up waiting")), { once: true })),
  ]);
}

/** The flags of the connection named `name` ("b" while it is blocked), or "" when there is none. */
async function clientFlags(name: string): Promise<string> {
  const list = String(await client.call("CLIENT", "LIST"));
  const line = list.split("\n").find((l) => l.includes(` name=${name} `) && l.includes("cmd=xreadgroup"));
  return / flags=(\S+)/.exec(line ?? "")?.[1] ?? "";
}

before(async () => {
  assert.equal(await client.ping(), "PONG", "the Redis test server answers");
});
