import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { MalformedRecordError, ObjectTooLargeError} from "stepwise";
import { SchemaMissingError, type Headers, type OutboxEvent } from "stepwise";
import { bundleCases, eventStreamerCases, makeRecord, recordStoreCases, roleSchedulerCases, timeoutStoreCases } from "stepwise/adaptertest";
import {
  migrate,
  postgres,
  PostgresEventStreamer,
  PostgresRecordStore,
  PostgresRoleScheduler,
  PostgresTimeoutStore,
  schemaSql,
  schemaVersion,
  tables,
} from "stepwise/postgres";
import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import type pg from "pg";
import { malformedRunIsSkippedAndCancellable } from "../support/malformed.js";
import { freshSchema, testPool } from "../support/postgres.js";
import { reminderThenExpiry } from "../support/reminder-and-expiry.js";
import { failingRunDoesNotBlock, lineRunsComplete } from "../support/end-to-end.js";
import { trimAfterAcks } from "../support/retention.js";

let db: Awaited<ReturnType<typeof freshSchema>>;
before(async () => {
  db = await freshSchema();
});
/** The pool of each scheduler standing in for a process. */
const memberPools = new Map<PostgresRoleScheduler, pg.Pool>();
after(async () => {
  await Promise.all([...memberPools.values()].map((pool) => pool.end()));
  await db.drop();
});

const options = () => ({ pool: db.pool, schema: db.schema });

for (const c of recordStoreCases(async () => new PostgresRecordStore(options()))) test(`postgres: ${c.name}`, c.run);
for (const c of timeoutStoreCases(async () => new PostgresTimeoutStore(options()))) test(`postgres: ${c.name}`, c.run);
for (const c of eventStreamerCases(async () => new PostgresEventStreamer(options()))) test(`postgres: ${c.name}`, c.run);
for (const c of bundleCases(async () => postgres(options()), async () => void (await db.pool.query("SELECT 1")))) test(`postgres: ${c.name}`, c.run);

// The mode the postgres() bundle runs in: the record store writes each event into the events table,
// in the record's transaction, and shares its notifier with the bundle's streamer.
const eventsTableRows = async (workflowName: string): Promise<OutboxEvent[]> => {
  const { rows } = await db.pool.query<{ id: string; foreign_id: string; type: number; headers: Headers; created_at: Date }>(
    `SELECT id::text, foreign_id, type, headers, created_at FROM ${db.schema}.stepwise_events WHERE headers->>'workflow_name' = $1 ORDER BY tx, id`,
    [workflowName],
  );
  return rows.map((r) => ({ id: r.id, workflowName, foreignId: r.foreign_id, type: r.type, headers: r.headers, createdAt: r.created_at }));
};
for (const c of recordStoreCases(async () => postgres(options()).recordStore, { writtenEvents: eventsTableRows })) test(`postgres (events table): ${c.name}`, c.run);
for (const c of eventStreamerCases(async () => postgres(options()).eventStreamer)) test(`postgres (events table): ${c.name}`, c.run);
/** The foreign ids of the events left on `topic`, oldest first. */
async function eventsLeft(topic: string): Promise<string[]> {
  const { rows } = await db.pool.query<{ foreign_id: string }>(`SELECT foreign_id FROM ${db.schema}.stepwise_events WHERE topic = $1 ORDER BY id`, [topic]);
  return rows.map((r) => r.foreign_id);
}

test("postgres: retention deletes the events every receiver passed and keeps those one has not reached", async () => {
  const s = new PostgresEventStreamer({ ...options(), retention: { intervalMs: 0 } });
  const topic = "retention-passed";
  // Closing stores a receiver's position, then trims: fast's trim finds slow at the start.
  const left = await trimAfterAcks(s, topic, async ({ fast, slow }) => (await fast.close(), await slow.close()), () => eventsLeft(topic));
  assert.deepEqual(left, ["b", "c"], "a went once both names passed it; the rest waits for slow; the ephemeral receiver holds nothing");
});

test("postgres: retention deletes events older than maxAgeMs (7 days by default), read or not", async () => {
  const s = new PostgresEventStreamer(options());
  const topic = "retention-age";
  const reader = await s.newReceiver(topic, "reader");
  const idle = await s.newReceiver(topic, "idle"); // never reads: only the age limit removes what it has not read
  try {
    const sender = await s.newSender(topic);
    for (const id of ["old", "new"]) await sender.send(id, 1, {});
    await db.pool.query(`UPDATE ${db.schema}.stepwise_events SET created_at = now() - interval '7 days 1 minute' WHERE topic = $1 AND foreign_id = 'old'`, [topic]);
    await (await reader.recv(AbortSignal.timeout(5_000))).ack();
  } finally {
    await Promise.all([reader.close(), idle.close()]);
  }
  assert.deepEqual(await eventsLeft(topic), ["new"], "the event older than 7 days went although idle never read it");
});

for (const c of roleSchedulerCases(async () => new PostgresRoleScheduler({ pool: db.pool, retryMs: 10 }), {
  // Ending the session that holds the lock is how a lease is lost in PostgreSQL.
  loseLease: async (_scheduler, role) => {
    await db.pool.query(
      `SELECT pg_terminate_backend(l.pid) FROM pg_locks l, (SELECT hashtextextended($1, 0) AS key) k
       WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
         AND l.classid::bigint = ((k.key >> 32) & 4294967295) AND l.objid::bigint = (k.key & 4294967295)`,
      [role],
    );
  },
  // Enough rounds for a leak to show, few enough that a server round trip per await stays cheap.
  leakRounds: 200,
  spread: {
    // A pool per scheduler, as each process has its own; its application_name finds its sessions.
    makeMembers: async (count) =>
      Array.from({ length: count }, () => {
        const pool = testPool({ max: 2, application_name: `stepwise-member-${randomBytes(6).toString("hex")}` });
        // Ended sessions report on the pool: heard here, they are what the crash case expects.
        pool.on("error", () => undefined);
        const scheduler = new PostgresRoleScheduler({ pool, retryMs: 50 });
        memberPools.set(scheduler, pool);
        return scheduler;
      }),
    // Ending its sessions is what a killed process's death does: the server drops their locks.
    crash: async (scheduler) => {
      const pool = memberPools.get(scheduler);
      assert.ok(pool, "the crashed scheduler was made by makeMembers");
      await db.pool.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1", [pool.options.application_name]);
    },
    takeoverMs: 500,
    diagnostic: (message) => console.log(`postgres: ${message}`),
  },
})) {
  test(`postgres: ${c.name}`, c.run);
}

test("postgres: migrate is idempotent, and sql/postgres.sql is its DDL for the default names", async () => {
  await migrate(db.pool, { schema: db.schema });
  await migrate(db.pool, { schema: db.schema });
  const shipped = await readFile(new URL("../../sql/postgres.sql", import.meta.url), "utf8");
  assert.equal(shipped, schemaSql(tables({})));
});

test("postgres: migrate brings a timeouts table of layout 1 to the current layout, keeping its rows as their status's first timeout", async () => {
  const schema = `${db.schema}_v1`;
  try {
    // The timeouts table as layout 1 made it, with one timeout in it.
    await db.pool.query(`CREATE SCHEMA "${schema}";
      CREATE TABLE "${schema}".stepwise_timeouts (
        id bigserial PRIMARY KEY, workflow_name text NOT NULL, foreign_id text NOT NULL, run_id text NOT NULL, status integer NOT NULL,
        completed boolean NOT NULL DEFAULT false, cancelled boolean NOT NULL DEFAULT false,
        expire_at timestamptz NOT NULL, created_at timestamptz NOT NULL DEFAULT now());
      CREATE TABLE "${schema}".stepwise_schema_version (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now());
      INSERT INTO "${schema}".stepwise_schema_version (version) VALUES (1);
      INSERT INTO "${schema}".stepwise_timeouts (workflow_name, foreign_id, run_id, status, expire_at) VALUES ('w', 'f-1', 'r-1', 1, 'epoch');`);
    await migrate(db.pool, { schema });
    await migrate(db.pool, { schema });
    const { rows } = await db.pool.query(`SELECT max(version) AS version FROM "${schema}".stepwise_schema_version`);
    assert.equal(rows[0].version, schemaVersion);
    const store = new PostgresTimeoutStore({ pool: db.pool, schema });
    await store.create({ workflowName: "w", foreignId: "f-1", runId: "r-1", status: 1, index: 1, expireAt: new Date(1) });
    const listed = await store.listValid("w", 1, new Date(1));
    assert.deepEqual(listed.map((t) => [t.runId, t.index]), [["r-1", 0], ["r-1", 1]]);
  } finally {
    await db.pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  }
});

test("postgres: migrate brings a records table of layout 2 to the current layout, its runs reading back without a trace context, as workflow version 1", async () => {
  const schema = `${db.schema}_v2`;
  try {
    // The records table as layout 2 made it, with one run in it.
    await db.pool.query(`CREATE SCHEMA "${schema}";
      CREATE TABLE "${schema}".stepwise_records (
        run_id text PRIMARY KEY, workflow_name text NOT NULL, foreign_id text NOT NULL, run_state smallint NOT NULL, status integer NOT NULL,
        object bytea NOT NULL, created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL, version integer NOT NULL,
        run_state_reason text NOT NULL DEFAULT '', status_description text NOT NULL DEFAULT '', trace_origin text NOT NULL DEFAULT '',
        seq bigserial NOT NULL);
      CREATE TABLE "${schema}".stepwise_schema_version (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now());
      INSERT INTO "${schema}".stepwise_schema_version (version) VALUES (2);
      INSERT INTO "${schema}".stepwise_records (run_id, workflow_name, foreign_id, run_state, status, object, created_at, updated_at, version)
        VALUES ('r-1', 'w', 'f-1', 2, 1, '\\x7b7d', 'epoch', 'epoch', 1);`);
    await migrate(db.pool, { schema });
    await migrate(db.pool, { schema });
    const { rows } = await db.pool.query(`SELECT max(version) AS version FROM "${schema}".stepwise_schema_version`);
    assert.equal(rows[0].version, schemaVersion);
    const store = new PostgresRecordStore({ pool: db.pool, schema });
    const old = await store.lookup("r-1");
    assert.deepEqual(old.meta, { runStateReason: "", statusDescription: "", version: 1, workflowVersion: 1, traceOrigin: "" });
    const traceParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    await store.store({ ...old, meta: { ...old.meta, version: 2, workflowVersion: 2, traceParent } });
    assert.deepEqual((await store.lookup("r-1")).meta, { ...old.meta, version: 2, workflowVersion: 2, traceParent });
  } finally {
    await db.pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  }
});

test("postgres: a status's reminder and expiry each fire once", async () => {
  await reminderThenExpiry(() => postgres(options()));
});

test("postgres: a store on a schema without tables says to run migrate", async () => {
  const store = new PostgresRecordStore({ pool: db.pool, schema: "sw_missing_schema" });
  await assert.rejects(store.lookup("r-1"), (err: SchemaMissingError) => {
    return err instanceof SchemaMissingError && err.code === "SCHEMA_MISSING" && /run migrate\(\)/.test(err.message) && err.message.includes("sw_missing_schema");
  });
  await assert.rejects(store.store(makeRecord({})), SchemaMissingError);
});

test("postgres: an oversized object is refused with ObjectTooLargeError and nothing is written", async () => {
  const store = new PostgresRecordStore({ ...options(), maxObjectBytes: 1024 });
  const record = makeRecord({ object: new Uint8Array(1025) });
  await assert.rejects(store.store(record), (err: ObjectTooLargeError) => err.code === "OBJECT_TOO_LARGE" && err.bytes === 1025 && err.maxBytes === 1024);
  await assert.rejects(store.lookup(record.runId), { code: "RECORD_NOT_FOUND" });
});

test("postgres: a malformed stored row gives MalformedRecordError naming the field", async () => {
  const store = new PostgresRecordStore(options());
  const record = makeRecord({});
  await store.store(record);
  await db.pool.query(`UPDATE "${db.schema}".stepwise_records SET run_state = 42 WHERE run_id = $1`, [record.runId]);
  await assert.rejects(store.lookup(record.runId), (err: MalformedRecordError) => err.code === "MALFORMED_RECORD" && /run_state 42/.test(err.message));
});

test("postgres: in events-table mode a record and its event are written together or not at all", async () => {
  const store = new PostgresRecordStore({ ...options(), events: "table" });
  const count = async (runId: string) =>
    Number((await db.pool.query(`SELECT count(*) FROM "${db.schema}".stepwise_events WHERE headers->>'run_id' = $1`, [runId])).rows[0].count);
  const record = makeRecord({});
  await store.store(record);
  assert.equal(await count(record.runId), 1);
  assert.deepEqual(await store.listOutboxEvents(record.workflowName, 10), []);
  // A conflicting write fails whole: no second event.
  await assert.rejects(store.store(record), { code: "VERSION_CONFLICT" });
  assert.equal(await count(record.runId), 1);
});

test("postgres: events committed out of id order by concurrent writers all reach every receiver once, in each writer's order", async () => {
  const streamer = new PostgresEventStreamer(options());
  const topic = `gap-${Date.now()}`;
  const receivers = await Promise.all([streamer.newReceiver(topic, "a"), streamer.newReceiver(topic, "b")]);
  const writers = 8;
  const perWriter = 40;
  const t = tables({ schema: db.schema });
  // Each writer holds its transaction open for a random while after inserting, so ids commit out of order.
  const write = async (writer: number) => {
    const client = await db.pool.connect();
    try {
      for (let i = 0; i < perWriter; i++) {
        await client.query("BEGIN");
        await client.query(`INSERT INTO ${t.events} (topic, foreign_id, type, headers) VALUES ($1, $2, 1, $3::jsonb)`, [
          topic,
          `w${writer}`,
          JSON.stringify({ seq: String(i) }),
        ]);
        await new Promise((resolve) => setImmediate(resolve));
        if (Math.random() < 0.3) await client.query("SELECT pg_sleep($1)", [Math.random() * 0.02]);
        await client.query(`SELECT pg_notify($1, $2)`, [t.channel, topic]);
        await client.query("COMMIT");
      }
    } finally {
      client.release();
    }
  };
  const read = async (receiver: (typeof receivers)[number]) => {
    const seen = new Map<string, number[]>();
    const ids = new Set<string>();
    const signal = AbortSignal.timeout(30_000);
    for (let n = 0; n < writers * perWriter; n++) {
      const { event, ack } = await receiver.recv(signal);
      assert.ok(!ids.has(event.id), `event ${event.id} delivered twice`);
      ids.add(event.id);
      const list = seen.get(event.foreignId) ?? [];
      list.push(Number(event.headers.seq));
      seen.set(event.foreignId, list);
      await ack();
    }
    return seen;
  };
  const [, ...seen] = await Promise.all([Promise.all(Array.from({ length: writers }, (_, w) => write(w))), ...receivers.map(read)]);
  for (const byWriter of seen) {
    assert.equal(byWriter.size, writers);
    for (const list of byWriter.values()) assert.deepEqual(list, Array.from({ length: perWriter }, (_, i) => i));
  }
  await Promise.all(receivers.map((r) => r.close()));
});

test("postgres: streamFromLatest skips what was committed before the start, even behind an older open transaction, and keeps what commits after", async () => {
  const streamer = new PostgresEventStreamer(options());
  const t = tables({ schema: db.schema });
  const topic = `latest-${Date.now()}`;
  const sender = await streamer.newSender(topic);
  const older = await db.pool.connect();
  const inFlight = await db.pool.connect();
  try {
    // An unrelated transaction holds the oldest in-flight id below the events that follow.
    await older.query("BEGIN");
    await older.query("SELECT pg_current_xact_id()");
    await sender.send("before", 1, {});
    await inFlight.query("BEGIN");
    await inFlight.query(`INSERT INTO ${t.events} (topic, foreign_id, type, headers) VALUES ($1, 'in-flight', 1, '{}'::jsonb)`, [topic]);

    const durable = await streamer.newReceiver(topic, "durable", { streamFromLatest: true });
    const ephemeral = await streamer.newReceiver(topic, "ephemeral", { streamFromLatest: true, ephemeral: true });
    await inFlight.query("COMMIT");
    await sender.send("after", 1, {});
    await older.query("COMMIT");

    for (const receiver of [durable, ephemeral]) {
      const signal = AbortSignal.timeout(10_000);
      const seen: string[] = [];
      for (let i = 0; i < 2; i++) {
        const { event, ack } = await receiver.recv(signal);
        seen.push(event.foreignId);
        await ack();
      }
      assert.deepEqual(seen, ["in-flight", "after"], "the event committed before the start is skipped; one in flight then is not");
      await receiver.close();
    }
  } finally {
    older.release();
    inFlight.release();
    await streamer.close();
  }
});

test("postgres: 200 runs of a three-step workflow on postgres() over two shards each complete, each transition and its event stored once", async () => {
  const runIds = await lineRunsComplete(postgres(options()), { runs: 200, name: "pg-line", outbox: false });
  const { rows } = await db.pool.query(
    `SELECT headers->>'run_id' AS run_id, count(*)::int AS events FROM "${db.schema}".stepwise_events WHERE headers->>'run_id' = ANY($1) GROUP BY 1`,
    [runIds],
  );
  assert.equal(rows.length, runIds.length, "every run has events");
  assert.ok(rows.every((row) => row.events === 4), "one event per stored version");
  const bundle = postgres(options());
  try {
    await failingRunDoesNotBlock(bundle, "pg-head-of-line");
  } finally {
    await bundle.close();
  }
});

test("postgres: a run with a malformed row is skipped, never blocks its status, and can be cancelled", async () => {
  const bundle = postgres(options());
  try {
    await malformedRunIsSkippedAndCancellable(bundle, "pg-malformed", async (runId) => {
      await db.pool.query(`UPDATE "${db.schema}".stepwise_records SET run_state = 99 WHERE run_id = $1`, [runId]);
    });
  } finally {
    await bundle.close();
  }
});
