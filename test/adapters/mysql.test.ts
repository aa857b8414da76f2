import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { setMaxListeners } from "node:events";
import { readFile } from "node:fs/promises";
import { after, afterEach, test } from "node:test";
import { createPool, type Pool, type PoolConnection, type RowDataPacket } from "mysql2/promise";
import { InvalidOptionError, RunState, topic as topicOf, type Event, type Headers, type OutboxEvent } from "stepwise";
import { bundleCases, eventStreamerCases, makeRecord, recordStoreCases, roleSchedulerCases, timeoutStoreCases } from "stepwise/adaptertest";
import {
  defaultMaxObjectBytes,
  migrate,
  mysql,
  MysqlEventStreamer,
  MysqlRecordStore,
  MysqlRoleScheduler,
  MysqlTimeoutStore,
  schemaSql,
  schemaVersion,
  type MysqlEventStreamerOptions,
  type MysqlPool,
  type MysqlRoleSchedulerOptions,
} from "stepwise/mysql";
import { FakeClock } from "stepwise/testing";
import { trimAfterAcks } from "../support/retention.js";
// White-box, for the gap test only: writers append exactly as the record store and senders do,
// but hold their transactions open for a random while before committing.
import { appendEvents } from "../../src/adapters/mysql/event-log.js";
import { mysqlTables } from "../../src/adapters/mysql/schema.js";
import { malformedRunIsSkippedAndCancellable } from "../support/malformed.js";
import { reminderThenExpiry } from "../support/reminder-and-expiry.js";
import { failingRunDoesNotBlock, lineRunsComplete } from "../support/end-to-end.js";

const poolOptions = {
  host: "127.0.0.1",
  port: Number(process.env.MYSQL_PORT ?? 3306),
  user: "root",
  database: "test",
  timezone: "Z",
  supportBigNumbers: true,
  bigNumberStrings: true,
} as const;
const pool: Pool = createPool({ ...poolOptions, connectionLimit: 40 });
/** The pool of each scheduler standing in for a process, and the ids of the connections it opened. */
const memberPools = new Map<MysqlRoleScheduler, { pool: Pool; threads: Set<number> }>();
const prefix = `sw_${randomBytes(4).toString("hex")}_`;
/** Every prefix this file creates tables for, dropped at the end. */
const prefixes = [prefix];
let migrated: Promise<void> | undefined;
const ready = () => (migrated ??= migrate(pool, { prefix }));

/** Adapters made by the cases, closed after each test: they hold connections or receivers. */
const opened: { close(): Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((a) => a.close()));
});
after(async () => {
  for (const p of prefixes) {
    const [rows] = await pool.query<({ name: string } & RowDataPacket)[]>(
      "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name LIKE ?",
      [`${p.replaceAll("_", "\\_")}%`],
    );
    for (const { name } of rows) await pool.query(`DROP TABLE \`${name}\``);
  }
  await Promise.all([...memberPools.values()].map((member) => member.pool.end()));
  await pool.end();
});

function streamer(options: Partial<MysqlEventStreamerOptions> = {}): MysqlEventStreamer {
  const s = new MysqlEventStreamer({ pool, prefix, ...options });
  opened.push(s);
  return s;
}
function scheduler(options: Partial<MysqlRoleSchedulerOptions> = {}): MysqlRoleScheduler {
  const s = new MysqlRoleScheduler({ pool, prefix, ...options });
  opened.push(s);
  return s;
}
async function count(sql: string, values: unknown[] = []): Promise<number> {
  const [rows] = await pool.query<({ n: string | number } & RowDataPacket)[]>(sql, values);
  return Number(rows[0]?.n);
}

for (const c of recordStoreCases(async () => (await ready(), new MysqlRecordStore({ pool, prefix })))) test(`mysql: ${c.name}`, c.run);
for (const c of timeoutStoreCases(async () => (await ready(), new MysqlTimeoutStore({ pool, prefix })))) test(`mysql: ${c.name}`, c.run);
for (const c of eventStreamerCases(async () => (await ready(), streamer()))) test(`mysql: ${c.name}`, c.run);
for (const c of bundleCases(async () => (await ready(), mysql({ pool, prefix })), async () => void (await pool.query("SELECT 1")))) test(`mysql: ${c.name}`, c.run);

// The mode the mysql() bundle runs in: the record store writes each event into the events table,
// in the record's transaction, and wakes the bundle's streamer.
const eventsTableRows = async (workflowName: string): Promise<OutboxEvent[]> => {
  const [rows] = await pool.query<({ id: string; foreign_id: string; type: number; headers: string; created_at: Date } & RowDataPacket)[]>(
    // Ordered by the column, not the text alias, which would put "10" before "9".
    `SELECT CAST(e.id AS CHAR) AS id, CAST(e.foreign_id AS CHAR) AS foreign_id, e.type, e.headers, e.created_at FROM \`${prefix}events\` e
      WHERE JSON_UNQUOTE(JSON_EXTRACT(e.headers, '$.workflow_name')) = ? ORDER BY e.id`,
    [workflowName],
  );
  return rows.map((r) => ({ id: r.id, workflowName, foreignId: r.foreign_id, type: r.type, headers: JSON.parse(r.headers) as Headers, createdAt: r.created_at }));
};
const bundle = async () => {
  await ready();
  const adapters = mysql({ pool, prefix });
  opened.push(adapters.eventStreamer, adapters.roleScheduler);
  return adapters;
};
for (const c of recordStoreCases(async () => (await bundle()).recordStore, { writtenEvents: eventsTableRows })) test(`mysql (events table): ${c.name}`, c.run);
for (const c of eventStreamerCases(async () => (await bundle()).eventStreamer)) test(`mysql (events table): ${c.name}`, c.run);
test("mysql: retention deletes the events every receiver passed and keeps those one has not reached", async () => {
  await ready();
  const clock = new FakeClock(new Date("2026-01-01T00:00:00Z"));
  const s = streamer({ clock, cursorWriteEvery: 1, retention: { intervalMs: 1_000 } });
  const topic = `retention-${randomBytes(4).toString("hex")}`;
  const left = await trimAfterAcks(
    s,
    topic,
    async ({ fast, sender, signal }) => {
      clock.advance(1_001); // past the interval since the first trim, and a to c older than it
      await sender.send("d", 1, {});
      await (await fast.recv(signal)).ack();
    },
    async () => {
      const [rows] = await pool.query<({ f: string } & RowDataPacket)[]>(`SELECT CAST(foreign_id AS CHAR) AS f FROM \`${prefix}events\` WHERE topic = ? ORDER BY id`, [topic]);
      return rows.map((r) => r.f);
    },
  );
  assert.deepEqual(left, ["b", "c", "d"], "a went once both names passed it; the rest waits for slow; the ephemeral receiver holds nothing");
});

test("mysql: retention deletes events older than maxAgeMs, read or not", async () => {
  await ready();
  const clock = new FakeClock(new Date("2026-01-01T00:00:00Z"));
  const s = streamer({ clock, cursorWriteEvery: 1, retention: { maxAgeMs: 60_000, intervalMs: 1_000 } });
  const topic = `retention-${randomBytes(4).toString("hex")}`;
  const reader = await s.newReceiver(topic, "reader");
  await s.newReceiver(topic, "idle"); // never reads: only the age limit removes what it has not read
  const sender = await s.newSender(topic);
  await sender.send("old", 1, {});
  clock.advance(60_001);
  await sender.send("new", 1, {});
  await (await reader.recv(AbortSignal.timeout(5_000))).ack();
  const [rows] = await pool.query<({ f: string } & RowDataPacket)[]>(`SELECT CAST(foreign_id AS CHAR) AS f FROM \`${prefix}events\` WHERE topic = ?`, [topic]);
  assert.deepEqual(rows.map((r) => r.f), ["new"], "the event older than maxAgeMs went although idle never read it");
});

for (const c of roleSchedulerCases(async () => {
  await ready();
  return scheduler();
}, {
  // A lease is lost the way MySQL loses one: the session holding the lock ends.
  loseLease: async (s, role) => {
    const [rows] = await pool.query<({ id: string | null } & RowDataPacket)[]>("SELECT IS_USED_LOCK(?) AS id", [
      await s.lockName(role),
    ]);
    const id = rows[0]?.id;
    assert.ok(id !== null && id !== undefined, "some connection holds the role's lock");
    await pool.query(`KILL CONNECTION ${Number(id)}`);
  },
  // Enough rounds for a leak to show, few enough that a server round trip per await stays cheap.
  leakRounds: 200,
  spread: {
    // A pool per scheduler, as each process has its own.
    makeMembers: async (count) => {
      await ready();
      return Array.from({ length: count }, () => {
        const memberPool = createPool({ ...poolOptions, connectionLimit: 4 });
        const threads = new Set<number>();
        memberPool.on("connection", (connection) => threads.add(connection.threadId));
        const s = scheduler({ pool: memberPool, pollingFrequency: 50 });
        memberPools.set(s, { pool: memberPool, threads });
        return s;
      });
    },
    // Killing its connections is what a killed process's death does: the server frees their locks.
    crash: async (s) => {
      const member = memberPools.get(s);
      assert.ok(member, "the crashed scheduler was made by makeMembers");
      for (const id of member.threads) await pool.query(`KILL CONNECTION ${id}`).catch(() => undefined);
    },
    takeoverMs: 500,
    diagnostic: (message) => console.log(`mysql: ${message}`),
  },
})) {
  test(`mysql: ${c.name}`, c.run);
}

test("mysql: migrate is idempotent and safe to run concurrently; sql/mysql.sql is its DDL for the default prefix", async () => {
  await ready();
  await migrate(pool, { prefix });
  await Promise.all([migrate(pool, { prefix }), migrate(pool, { prefix })]);
  assert.equal(await count(`SELECT COUNT(*) AS n FROM \`${prefix}schema_version\``), 1, "one schema version row");
  assert.equal(await count(`SELECT MAX(version) AS n FROM \`${prefix}schema_version\``), schemaVersion, "the current layout version");
  assert.equal(await count(`SELECT COUNT(*) AS n FROM \`${prefix}events_lock\``), 1, "one events lock row");
  const shipped = await readFile(new URL("../../sql/mysql.sql", import.meta.url), "utf8");
  assert.equal(shipped, schemaSql(), "sql/mysql.sql is schemaSql() for the default prefix");
  assert.ok(schemaSql(prefix).includes(`\`${prefix}records\``));
  assert.throws(() => schemaSql("bad-prefix;"), InvalidOptionError);
});

test("mysql: migrate brings a timeouts table of layout 1 to the current layout, keeping its rows as their status's first timeout", async () => {
  const old = `${prefix}v1_`;
  prefixes.push(old);
  // The timeouts table as layout 1 made it, with one timeout in it.
  await pool.query(`CREATE TABLE \`${old}timeouts\` (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT, workflow_name VARBINARY(255) NOT NULL, foreign_id VARBINARY(512) NOT NULL,
    run_id VARBINARY(255) NOT NULL, status INT NOT NULL, expire_at DATETIME(3) NOT NULL, created_at DATETIME(3) NOT NULL,
    PRIMARY KEY (id)) ENGINE=InnoDB`);
  await pool.query(`CREATE TABLE \`${old}schema_version\` (version INT UNSIGNED NOT NULL, applied_at DATETIME(3) NOT NULL, PRIMARY KEY (version)) ENGINE=InnoDB`);
  await pool.query(`INSERT INTO \`${old}schema_version\` VALUES (1, UTC_TIMESTAMP(3))`);
  await pool.query(`INSERT INTO \`${old}timeouts\` (workflow_name, foreign_id, run_id, status, expire_at, created_at) VALUES ('w', 'f-1', 'r-1', 1, '1970-01-01 00:00:00.000', UTC_TIMESTAMP(3))`);
  await Promise.all([migrate(pool, { prefix: old }), migrate(pool, { prefix: old })]);
  await migrate(pool, { prefix: old });
  assert.equal(await count(`SELECT MAX(version) AS n FROM \`${old}schema_version\``), schemaVersion);
  const store = new MysqlTimeoutStore({ pool, prefix: old });
  await store.create({ workflowName: "w", foreignId: "f-1", runId: "r-1", status: 1, index: 1, expireAt: new Date(1) });
  const listed = await store.listValid("w", 1, new Date(1));
  assert.deepEqual(listed.map((t) => [t.runId, t.index]), [["r-1", 0], ["r-1", 1]]);
});

test("mysql: migrate brings a records table of layout 2 to the current layout, its runs reading back without a trace context, as workflow version 1", async () => {
  const old = `${prefix}v2_`;
  prefixes.push(old);
  // The records table as layout 2 made it, with one run in it.
  await pool.query(`CREATE TABLE \`${old}records\` (
    run_id VARBINARY(255) NOT NULL, seq BIGINT UNSIGNED NOT NULL AUTO_INCREMENT, workflow_name VARBINARY(255) NOT NULL,
    foreign_id VARBINARY(512) NOT NULL, run_state TINYINT UNSIGNED NOT NULL, status INT NOT NULL, object LONGBLOB NOT NULL,
    created_at DATETIME(3) NOT NULL, updated_at DATETIME(3) NOT NULL, version INT UNSIGNED NOT NULL, run_state_reason TEXT NOT NULL,
    status_description TEXT NOT NULL, trace_origin TEXT NOT NULL,
    unfinished_foreign_id VARBINARY(512) GENERATED ALWAYS AS (IF(run_state IN (4, 5, 6, 7), NULL, foreign_id)) STORED,
    PRIMARY KEY (run_id), UNIQUE KEY seq (seq), UNIQUE KEY unfinished_foreign_id (workflow_name, unfinished_foreign_id)) ENGINE=InnoDB`);
  await pool.query(`CREATE TABLE \`${old}schema_version\` (version INT UNSIGNED NOT NULL, applied_at DATETIME(3) NOT NULL, PRIMARY KEY (version)) ENGINE=InnoDB`);
  await pool.query(`INSERT INTO \`${old}schema_version\` VALUES (2, UTC_TIMESTAMP(3))`);
  await pool.query(`INSERT INTO \`${old}records\` (run_id, workflow_name, foreign_id, run_state, status, object, created_at, updated_at, version,
    run_state_reason, status_description, trace_origin) VALUES ('r-1', 'w', 'f-1', 2, 1, '{}', '1970-01-01 00:00:00.000', '1970-01-01 00:00:00.000', 1, '', '', '')`);
  await Promise.all([migrate(pool, { prefix: old }), migrate(pool, { prefix: old })]);
  await migrate(pool, { prefix: old });
  assert.equal(await count(`SELECT MAX(version) AS n FROM \`${old}schema_version\``), schemaVersion);
  const store = new MysqlRecordStore({ pool, prefix: old });
  const stored = await store.lookup("r-1");
  assert.deepEqual(stored.meta, { runStateReason: "", statusDescription: "", version: 1, workflowVersion: 1, traceOrigin: "" });
  const traceParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  await store.store({ ...stored, meta: { ...stored.meta, version: 2, workflowVersion: 2, traceParent } });
  assert.deepEqual((await store.lookup("r-1")).meta, { ...stored.meta, version: 2, workflowVersion: 2, traceParent });
});

test("mysql: a status's reminder and expiry each fire once", async () => {
  await ready();
  await reminderThenExpiry((clock) => {
    const adapters = mysql({ pool, prefix, clock });
    opened.push(adapters.roleScheduler, adapters.eventStreamer);
    return adapters;
  });
});

test("mysql: adapters on a prefix without tables throw SchemaMissingError naming the table and migrate", async () => {
  const missing = `sw_missing_${randomBytes(4).toString("hex")}_`;
  const isSchemaMissing = (table: string) => (err: unknown) => {
    assert.ok(err instanceof Error);
    assert.equal((err as { code?: unknown }).code, "SCHEMA_MISSING");
    assert.match(err.message, /migrate/);
    assert.ok(err.message.includes(`${missing}${table}`), `the message names ${missing}${table}: ${err.message}`);
    return true;
  };
  const store = new MysqlRecordStore({ pool, prefix: missing });
  await assert.rejects(store.lookup("r-1"), isSchemaMissing("records"));
  await assert.rejects(store.store(makeRecord()), isSchemaMissing("records"));
  await assert.rejects(new MysqlTimeoutStore({ pool, prefix: missing }).list("w"), isSchemaMissing("timeouts"));
  await assert.rejects(streamer({ prefix: missing }).newReceiver("t", "r"), isSchemaMissing("cursors"));
  await assert.rejects(new MysqlRecordStore({ pool, prefix: missing, events: "table" }).store(makeRecord()), isSchemaMissing("records"));
  await assert.rejects(scheduler({ prefix: missing }).await("r", AbortSignal.timeout(5_000)), isSchemaMissing("role_members"));
});

test("mysql: an object over maxObjectBytes is an ObjectTooLargeError and nothing is written; the default fits one packet", async () => {
  await ready();
  const small = new MysqlRecordStore({ pool, prefix, maxObjectBytes: 1024 });
  const tooBig = makeRecord({ object: new Uint8Array(1025) });
  await assert.rejects(small.store(tooBig), (err: unknown) => {
    assert.equal((err as { code?: unknown }).code, "OBJECT_TOO_LARGE");
    assert.match(String(err), /1025 bytes/);
    return true;
  });
  await assert.rejects(small.lookup(tooBig.runId), { code: "RECORD_NOT_FOUND" });
  assert.deepEqual(await small.listOutboxEvents(tooBig.workflowName, 10), [], "no outbox event");
  await small.store(makeRecord({ object: new Uint8Array(1024) }));

  // The default limit is usable as documented: an object of exactly that size round-trips.
  const store = new MysqlRecordStore({ pool, prefix });
  const largest = makeRecord({ object: randomBytes(defaultMaxObjectBytes) });
  await store.store(largest);
  assert.ok(Buffer.from((await store.lookup(largest.runId)).object).equals(Buffer.from(largest.object)), "the largest object round-trips");
  await assert.rejects(store.store(makeRecord({ object: new Uint8Array(defaultMaxObjectBytes + 1) })), { code: "OBJECT_TOO_LARGE" });
});

test("mysql: a time outside DATETIME's years 1000 to 9999 is refused with ValueNotStorableError naming it, and a filter beyond them reads as the end", async () => {
  await ready();
  const store = new MysqlRecordStore({ pool, prefix });
  const farFuture = new Date("+010000-01-01T00:00:00.000Z");
  const late = makeRecord({ createdAt: farFuture, updatedAt: farFuture });
  await assert.rejects(store.store(late), (err: unknown) => {
    assert.equal((err as { code?: unknown }).code, "VALUE_NOT_STORABLE");
    assert.match(String(err), /the record's createdAt .*1000 to 9999.*\+010000/);
    return true;
  });
  await assert.rejects(store.lookup(late.runId), { code: "RECORD_NOT_FOUND" }, "nothing is written");

  const timeouts = new MysqlTimeoutStore({ pool, prefix });
  const workflowName = `wf-${randomBytes(6).toString("hex")}`;
  await assert.rejects(
    timeouts.create({ workflowName, foreignId: "f", runId: "r", status: 1, expireAt: new Date("0999-12-31T23:59:59.999Z") }),
    (err: unknown) => (err as { code?: unknown }).code === "VALUE_NOT_STORABLE" && /the timeout's expireAt/.test(String(err)),
  );

  const kept = makeRecord({ workflowName });
  await store.store(kept);
  const listed = await store.list({ workflowName, limit: 10, filter: { createdAfter: new Date(-8.64e15), createdBefore: farFuture } });
  assert.deepEqual(listed.map((r) => r.runId), [kept.runId], "bounds beyond the column's years hold every run");
  await timeouts.create({ workflowName, foreignId: "f", runId: kept.runId, status: 1, expireAt: new Date("2026-01-01T00:00:00Z") });
  assert.equal((await timeouts.listValid(workflowName, 1, farFuture)).length, 1, "a far-future now finds the due timeout");
});

test("mysql: a row that cannot be read back is a MalformedRecordError", async () => {
  await ready();
  const store = new MysqlRecordStore({ pool, prefix });
  const record = makeRecord();
  await store.store(record);
  await pool.query(`UPDATE \`${prefix}records\` SET run_state = 99 WHERE run_id = ?`, [record.runId]);
  await assert.rejects(store.lookup(record.runId), (err: unknown) => {
    assert.equal((err as { code?: unknown }).code, "MALFORMED_RECORD");
    assert.match(String(err), /run_state 99/);
    return true;
  });
  await assert.rejects(store.latest(record.workflowName, record.foreignId), { code: "MALFORMED_RECORD" });

  const outboxed = makeRecord();
  await store.store(outboxed);
  await pool.query(`UPDATE \`${prefix}outbox\` SET headers = 'not json' WHERE workflow_name = ?`, [outboxed.workflowName]);
  // The listing names the unreadable row beside the readable ones (none here), rather than failing whole.
  await assert.rejects(store.listOutboxEvents(outboxed.workflowName, 10), (err: { code?: unknown; readable?: unknown[]; malformed?: { error: { code: string } }[] }) => {
    assert.deepEqual([err.code, err.readable, err.malformed?.map((m) => m.error.code)], ["MALFORMED_ROWS", [], ["MALFORMED_RECORD"]]);
    return true;
  });
});

test("mysql: foreign ids compare byte for byte, whatever they contain", async () => {
  await ready();
  const store = new MysqlRecordStore({ pool, prefix });
  const workflowName = `wf-${randomBytes(6).toString("hex")}`;
  // Distinct to a case-insensitive or PAD SPACE collation's eyes, equal to none here.
  for (const foreignId of ["Order-1", "order-1", "order-1 ", "ördér-1"]) await store.store(makeRecord({ workflowName, foreignId }));
  assert.equal((await store.latest(workflowName, "order-1 ")).foreignId, "order-1 ");
  // The duplicate value is quoted in the server's message; it must not pass for the key's name.
  const tricky = "x' for key 'PRIMARY";
  await store.store(makeRecord({ workflowName, foreignId: tricky }));
  await assert.rejects(store.store(makeRecord({ workflowName, foreignId: tricky })), { code: "WORKFLOW_IN_PROGRESS" });
});

test("mysql: in events table mode the event is written in the record's transaction, and a failed store writes neither", async () => {
  await ready();
  const store = new MysqlRecordStore({ pool, prefix, events: "table" });
  const record = makeRecord({ workflowName: `wf-${randomBytes(6).toString("hex")}` });
  const topic = topicOf(record.workflowName, 1);
  const s = streamer();
  const receiver = await s.newReceiver(topic, "reader");
  await store.store(record);
  assert.deepEqual(await store.listOutboxEvents(record.workflowName, 10), [], "no outbox row");
  const { event, ack } = await receiver.recv(AbortSignal.timeout(5_000));
  assert.equal(event.foreignId, record.foreignId);
  assert.equal(event.type, 1);
  assert.deepEqual({ ...event.headers }, {
    workflow_name: record.workflowName,
    foreign_id: record.foreignId,
    topic,
    run_id: record.runId,
    run_state: String(RunState.Initiated),
    record_version: "1",
  });
  await ack();
  const events = () => count(`SELECT COUNT(*) AS n FROM \`${prefix}events\` WHERE topic = ?`, [topic]);
  assert.equal(await events(), 1);

  // A refused compare-and-set writes no event.
  await assert.rejects(store.store({ ...record, meta: { ...record.meta, version: 3 } }), { code: "VERSION_CONFLICT" });
  assert.equal(await events(), 1, "no event for the refused write");

  // A failing event write rolls the record back: without the lock row the append refuses.
  const broken = `${prefix}b_`;
  prefixes.push(broken);
  await migrate(pool, { prefix: broken });
  await pool.query(`DELETE FROM \`${broken}events_lock\``);
  const brokenStore = new MysqlRecordStore({ pool, prefix: broken, events: "table" });
  const lost = makeRecord();
  await assert.rejects(brokenStore.store(lost), { code: "SCHEMA_MISSING" });
  await assert.rejects(brokenStore.lookup(lost.runId), { code: "RECORD_NOT_FOUND" }, "the record was rolled back with its event");
  assert.equal(await count(`SELECT COUNT(*) AS n FROM \`${broken}events\``), 0);
});

/** `pool`, noting each statement sent on the connections it hands out (the transactions' statements). */
function notingPool(statements: string[]): MysqlPool {
  const note = (sql: string) => void statements.push(sql.replace(/\s+/g, " "));
  return {
    query: (sql, values) => pool.query(sql, values),
    execute: (sql, values) => pool.execute(sql, values),
    getConnection: async () => {
      const connection = await pool.getConnection();
      return {
        query: (sql, values) => (note(sql), connection.query(sql, values)),
        execute: (sql, values) => (note(sql), connection.execute(sql, values)),
        release: () => connection.release(),
        destroy: () => connection.destroy(),
        on: (event, listener) => connection.on(event, listener),
        off: (event, listener) => connection.off(event, listener),
      };
    },
  };
}

test("mysql: storeMany takes the events lock once, after every record of the batch, and writes the events in the records' order", async () => {
  await ready();
  const statements: string[] = [];
  const store = new MysqlRecordStore({ pool: notingPool(statements), prefix, events: "table" });
  const workflowName = `wf-${randomBytes(6).toString("hex")}`;
  const first = Array.from({ length: 3 }, () => makeRecord({ workflowName }));
  const second = first.map((record) => ({ ...record, meta: { ...record.meta, version: 2 } }));
  for (const batch of [first, second]) {
    statements.length = 0;
    await store.storeMany(batch);
    const locks = statements.flatMap((sql, i) => (sql.includes("FOR UPDATE") ? [i] : []));
    const recordWrites = statements.flatMap((sql, i) => (sql.includes(`\`${prefix}records\``) ? [i] : []));
    assert.equal(locks.length, 1, `one lock for the batch: ${statements.join(" | ")}`);
    assert.equal(recordWrites.length, batch.length);
    assert.ok(recordWrites.every((i) => i < (locks[0] ?? -1)), `every record written before the lock: ${statements.join(" | ")}`);
  }
  const [rows] = await pool.query<({ f: string; v: string } & RowDataPacket)[]>(
    `SELECT CAST(foreign_id AS CHAR) AS f, JSON_VALUE(headers, '$.record_version') AS v FROM \`${prefix}events\` WHERE topic IN (?) ORDER BY id`,
    [[topicOf(workflowName, 1)]],
  );
  assert.deepEqual(
    rows.map((row) => `${row.f}@${row.v}`),
    [...first, ...second].map((record) => `${record.foreignId}@${record.meta.version}`),
  );
});

test("mysql: a transaction's connection is destroyed, never handed back, when it is killed mid-transaction or its ROLLBACK fails", async () => {
  await ready();
  /** A pool whose connections are killed by the server just before they send a statement starting with `killBefore`. */
  const killingPool = (killBefore: string, ends: string[]): MysqlPool => ({
    query: (sql, values) => pool.query(sql, values),
    execute: (sql, values) => pool.execute(sql, values),
    getConnection: async () => {
      const connection = await pool.getConnection();
      const killFirst = async (sql: string) => {
        if (sql.trimStart().startsWith(killBefore)) await pool.query(`KILL CONNECTION ${connection.threadId}`);
      };
      return {
        query: async (sql, values) => (await killFirst(sql), connection.query(sql, values)),
        execute: async (sql, values) => (await killFirst(sql), connection.execute(sql, values)),
        release: () => (ends.push("release"), connection.release()),
        destroy: () => (ends.push("destroy"), connection.destroy()),
        on: (event, listener) => connection.on(event, listener),
        off: (event, listener) => connection.off(event, listener),
      };
    },
  });
  const reader = new MysqlRecordStore({ pool, prefix });
  const cases = [
    // Killed between the record's write and the event's: the server rolls the transaction back.
    { killBefore: "SELECT id FROM", record: makeRecord(), stored: false },
    // A refused write (no version 1 to update) whose ROLLBACK meets a dead connection.
    { killBefore: "ROLLBACK", record: makeRecord({ meta: { version: 2 } }), stored: false },
    // Nothing killed: the connection goes back to the pool.
    { killBefore: "nothing", record: makeRecord(), stored: true },
  ];
  for (const { killBefore, record, stored } of cases) {
    const ends: string[] = [];
    const store = new MysqlRecordStore({ pool: killingPool(killBefore, ends), prefix, events: "table" });
    if (stored) await store.store(record);
    else await assert.rejects(store.store(record));
    assert.deepEqual(ends, [stored ? "release" : "destroy"], `killed before ${killBefore}`);
    if (!stored) await assert.rejects(reader.lookup(record.runId), { code: "RECORD_NOT_FOUND" });
  }
});

test("mysql: receivers write their position every cursorWriteEvery acks and before waiting idle", async () => {
  await ready();
  const s = streamer({ cursorWriteEvery: 2 });
  const topic = `topic-${randomBytes(6).toString("hex")}`;
  const sender = await s.newSender(topic);
  for (const id of ["a", "b", "c"]) await sender.send(id, 1, {});
  const position = () => count(`SELECT position AS n FROM \`${prefix}cursors\` WHERE topic = ? AND name = ?`, [topic, "r"]);
  const receiver = await s.newReceiver(topic, "r");
  const signal = AbortSignal.timeout(5_000);
  const got: Event[] = [];
  for (let i = 0; i < 2; i++) {
    const { event, ack } = await receiver.recv(signal);
    got.push(event);
    await ack();
  }
  assert.equal(await position(), Number(got[1]?.id), "written after the second ack");
  const third = await receiver.recv(signal);
  await third.ack();
  assert.equal(await position(), Number(got[1]?.id), "the third ack is held in memory");

  // Without closing the receiver (a crash would not), another receiver of the name resumes from
  // the written position once the first has gone idle.
  const idle = new AbortController();
  const waiting = receiver.recv(idle.signal).catch(() => undefined);
  await until("the idle receiver to write its position", async () => (await position()) === Number(third.event.id));
  idle.abort();
  await waiting;
});

test("mysql: concurrent writers committing out of order never make a receiver skip or repeat an event", async () => {
  await ready();
  const tables = mysqlTables(prefix);
  const topic = `gap-${randomBytes(6).toString("hex")}`;
  const writers = 8;
  const perWriter = 50;
  // Receivers poll as fast as they can with small batches, to read while writers are mid-commit.
  const s = streamer({ batchSize: 7 });
  const names = ["r-1", "r-2", "r-3"];
  const receivers = await Promise.all(names.map((name) => s.newReceiver(topic, name, { pollingFrequency: 1 })));
  const stop = new AbortController();
  const signal = AbortSignal.any([stop.signal, AbortSignal.timeout(30_000)]);

  const reading = receivers.map(async (receiver) => {
    const seen: string[] = [];
    for (;;) {
      const { event, ack } = await receiver.recv(signal);
      await ack();
      if (event.foreignId === "sentinel") return seen;
      seen.push(event.foreignId);
    }
  });

  const write = async (writer: number) => {
    const connection: PoolConnection = await pool.getConnection();
    try {
      for (let i = 0; i < perWriter; i++) {
        await connection.query("START TRANSACTION");
        // Other work before the append, as the record store writes the record first.
        await connection.query("DO SLEEP(?)", [Math.random() * 0.002]);
        await appendEvents(connection, tables, [{ topic, foreignId: `${writer}:${i}`, type: 1, headers: {}, createdAt: new Date() }]);
        // Held open after the id was allocated: without the lock, later ids would commit first.
        await connection.query("DO SLEEP(?)", [Math.random() * 0.003]);
        await connection.query("COMMIT");
      }
    } finally {
      connection.release();
    }
  };
  try {
    await Promise.all(Array.from({ length: writers }, (_, w) => write(w)));
    await (await s.newSender(topic)).send("sentinel", 1, {});
    const results = await Promise.all(reading);
    for (const [r, seen] of results.entries()) {
      assert.equal(seen.length, writers * perWriter, `${names[r]} got every event once (got ${seen.length})`);
      assert.equal(new Set(seen).size, seen.length, `${names[r]} got no event twice`);
      for (let w = 0; w < writers; w++) {
        const order = seen.filter((id) => id.startsWith(`${w}:`)).map((id) => Number(id.split(":")[1]));
        assert.deepEqual(order, Array.from({ length: perWriter }, (_, i) => i), `${names[r]} got writer ${w}'s events in send order`);
      }
    }
  } finally {
    stop.abort();
    await Promise.allSettled(reading);
  }
});

test("mysql: a role is exclusive across schedulers and passes to another scheduler after release", async () => {
  const first = scheduler({ pollingFrequency: 10 });
  const second = scheduler({ pollingFrequency: 10 });
  const role = `role-${"x".repeat(200)}-${randomBytes(4).toString("hex")}`; // longer than MySQL's 64-character lock names
  const controller = new AbortController();
  const lease = await first.await(role, controller.signal);
  let granted = false;
  const waiting = second.await(role, controller.signal).then((l) => {
    granted = true;
    return l;
  });
  const holderOf = async () => {
    const [rows] = await pool.query<({ id: string | null } & RowDataPacket)[]>("SELECT IS_USED_LOCK(?) AS id", [await first.lockName(role)]);
    return rows[0]?.id ?? null;
  };
  const before = await holderOf();
  assert.ok(before !== null, "the lock is held in the database");
  assert.equal(granted, false, "the second scheduler waits while the first holds the role");
  await lease.release();
  const next = await waiting;
  assert.equal(next.signal.aborted, false);
  const now = await holderOf();
  assert.ok(now !== null && now !== before, "the lock moved to the second scheduler's connection");
  await next.release();
  controller.abort();
});

test("mysql: a scheduler taking many roles at once on its one connection sets off no MaxListenersExceededWarning", async () => {
  await ready();
  const warnings: Error[] = [];
  const onWarning = (warning: Error) => void warnings.push(warning);
  process.on("warning", onWarning);
  const controller = new AbortController();
  // One signal for every await, as a workflow gives its stop signal (and lifts its limit).
  setMaxListeners(0, controller.signal);
  try {
    const s = scheduler({ pollingFrequency: 10 });
    // More roles than an AbortSignal's default listener limit (10): each one's GET_LOCK is in flight on the session at once.
    const roles = Array.from({ length: 15 }, (_, i) => `many-${randomBytes(4).toString("hex")}-${i}`);
    const leases = await Promise.all(roles.map((role) => s.await(role, controller.signal)));
    await Promise.all(leases.map((lease) => lease.release()));
    // Warnings are emitted on a later tick.
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(warnings.filter((w) => w.name === "MaxListenersExceededWarning").map((w) => w.message), []);
  } finally {
    controller.abort();
    process.off("warning", onWarning);
  }
});

test("mysql: 200 runs of a three-step workflow on mysql() over two shards each complete, each transition stored once", async () => {
  await ready();
  const adapters = mysql({ pool, prefix });
  opened.push(adapters);
  await lineRunsComplete(adapters, { runs: 200, name: `line-${randomBytes(4).toString("hex")}`, outbox: false });
  await failingRunDoesNotBlock(adapters, `head-of-line-${randomBytes(4).toString("hex")}`);
});

/** Checks `condition` until it holds, each check a query's round trip apart, failing after `timeoutMs`. */
async function until(what: string, condition: () => Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
  }
}

test("mysql: a run with a malformed row is skipped, never blocks its status, and can be cancelled", async () => {
  await ready();
  const bundle = mysql({ pool, prefix });
  try {
    await malformedRunIsSkippedAndCancellable(bundle, `mysql-malformed-${randomBytes(4).toString("hex")}`, async (runId) => {
      await pool.query(`UPDATE \`${prefix}records\` SET run_state = 99 WHERE run_id = ?`, [runId]);
    });
  } finally {
    await bundle.close();
  }
});
