import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import Database from "better-sqlite3";
import { hasErrorCode, InvalidOptionError, topic as topicOf, type Headers, type OutboxEvent } from "stepwise";
import { bundleCases, eventStreamerCases, makeRecord, recordStoreCases, roleSchedulerCases, timeoutStoreCases } from "stepwise/adaptertest";
import {
  migrate,
  schemaSql,
  schemaVersion,
  sqlite,
  SqliteEventStreamer,
  type SqliteEventStreamerOptions,
  SqliteRecordStore,
  SqliteRoleScheduler,
  SqliteTimeoutStore,
  type SqliteDatabase,
} from "stepwise/sqlite";
import { malformedRunIsSkippedAndCancellable } from "../support/malformed.js";
import { reminderThenExpiry } from "../support/reminder-and-expiry.js";
import { failingRunDoesNotBlock, lineRunsComplete } from "../support/end-to-end.js";
import { FakeClock } from "stepwise/testing";
import { trimAfterAcks } from "../support/retention.js";

const dir = mkdtempSync(join(tmpdir(), "stepwise-sqlite-test-"));
let fileCount = 0;
/** A path for a new database file in this test's directory. */
const freshPath = () => join(dir, `case-${++fileCount}.db`);

/** Everything the cases open, closed at the end: databases last. */
const schedulers: SqliteRoleScheduler[] = [];
const streamers: SqliteEventStreamer[] = [];
const databases: Database.Database[] = [];
after(async () => {
  await Promise.all(schedulers.map((s) => s.close()));
  await Promise.all(streamers.map((s) => s.close()));
  for (const db of databases) if (db.open) db.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A connection to `path` (a fresh file by default), in WAL mode, closed at the end. */
function connect(path = freshPath()): Database.Database {
  const db = new Database(path);
  db.pragma("journal_mode = WAL");
  databases.push(db);
  return db;
}

/** A migrated database on a fresh file. */
function freshDb(): Database.Database {
  const db = connect();
  migrate(db);
  return db;
}

function streamer(db: Database.Database, options: Omit<SqliteEventStreamerOptions, "db"> = {}): SqliteEventStreamer {
  const s = new SqliteEventStreamer({ db, ...options });
  streamers.push(s);
  return s;
}

/**
 * Awaits `work` for at most 5 s. The timer is a ref'd one: the lease's renewal timer is not, and
 * a test awaiting only a lease's signal would otherwise let the event loop end.
 */
async function bounded<T>(what: string, work: Promise<T>): Promise<T> {
  const limit = new AbortController();
  try {
    return await Promise.race([
      work,
      delay(5_000, undefined, { signal: limit.signal }).then(() => {
        throw new Error(`waited 5 s for ${what}`);
      }),
    ]);
  } finally {
    limit.abort();
  }
}

const count = (db: SqliteDatabase, sql: string, ...params: string[]) => (db.prepare(sql).get(...params) as { n: number }).n;

for (const c of recordStoreCases(async () => new SqliteRecordStore({ db: freshDb() }))) test(`sqlite: ${c.name}`, c.run);
for (const c of recordStoreCases(async () => {
  const db = connect();
  migrate(db, { prefix: "wf_" });
  return new SqliteRecordStore({ db, prefix: "wf_" });
})) {
  test(`sqlite (prefix wf_): ${c.name}`, c.run);
}
for (const c of timeoutStoreCases(async () => new SqliteTimeoutStore({ db: freshDb() }))) test(`sqlite: ${c.name}`, c.run);
for (const c of eventStreamerCases(async () => streamer(freshDb()))) test(`sqlite: ${c.name}`, c.run);
{
  // One Database of the user's, shared by every bundle the cases make: close() must leave it open.
  const userDb = connect();
  const userDbWorks = async () => assert.equal((userDb.prepare("SELECT 1 AS one").get() as { one: number }).one, 1);
  for (const c of bundleCases(async () => sqlite(userDb), userDbWorks)) test(`sqlite: ${c.name}`, c.run);
}

// The mode the sqlite() bundle runs in: the record store writes each event into the events table,
// in the record's transaction, and wakes the bundle's streamer.
const bundleDb = freshDb();
const bundle = sqlite(bundleDb);
after(() => bundle.close());
const eventsTableRows = async (workflowName: string): Promise<OutboxEvent[]> => {
  const rows = bundleDb
    .prepare("SELECT id, foreign_id, type, headers, created_at FROM stepwise_events WHERE json_extract(headers, '$.workflow_name') = ? ORDER BY id")
    .all(workflowName) as { id: number; foreign_id: string; type: number; headers: string; created_at: number }[];
  return rows.map((r) => ({ id: String(r.id), workflowName, foreignId: r.foreign_id, type: r.type, headers: JSON.parse(r.headers) as Headers, createdAt: new Date(r.created_at) }));
};
for (const c of recordStoreCases(async () => bundle.recordStore, { writtenEvents: eventsTableRows })) test(`sqlite (events table): ${c.name}`, c.run);
for (const c of eventStreamerCases(async () => bundle.eventStreamer)) test(`sqlite (events table): ${c.name}`, c.run);

test("sqlite: retention deletes the events every receiver passed and keeps those one has not reached", async () => {
  const db = freshDb();
  const clock = new FakeClock(new Date("2026-01-01T00:00:00Z"));
  const s = streamer(db, { clock, cursorWriteEvery: 1, retention: { intervalMs: 1_000 } });
  const left = await trimAfterAcks(
    s,
    "t",
    async ({ fast, sender, signal }) => {
      clock.advance(1_001); // past the interval since the first trim, and a to c older than it
      await sender.send("d", 1, {});
      await (await fast.recv(signal)).ack();
    },
    async () => db.prepare("SELECT foreign_id FROM stepwise_events WHERE topic = 't' ORDER BY id").pluck().all() as string[],
  );
  assert.deepEqual(left, ["b", "c", "d"], "a went once both names passed it; the rest waits for slow; the ephemeral receiver holds nothing");
});

test("sqlite: retention deletes events older than maxAgeMs, read or not, and is off with retention: false", async () => {
  const db = freshDb();
  const clock = new FakeClock(new Date("2026-01-01T00:00:00Z"));
  const s = streamer(db, { clock, cursorWriteEvery: 1, retention: { maxAgeMs: 60_000, intervalMs: 1_000 } });
  const kept = streamer(db, { clock, cursorWriteEvery: 1, retention: false });
  const reader = await s.newReceiver("t", "reader");
  await s.newReceiver("t", "idle"); // never reads: only the age limit removes what it has not read
  const sender = await s.newSender("t");
  await sender.send("old", 1, {});
  const signal = AbortSignal.timeout(5_000);
  const count = () => db.prepare("SELECT count(*) FROM stepwise_events WHERE topic = 't'").pluck().get();

  clock.advance(60_001);
  await sender.send("new", 1, {});
  const keeper = await kept.newReceiver("t", "keeper");
  await (await keeper.recv(signal)).ack();
  assert.equal(count(), 2, "a streamer with retention: false deletes nothing");

  await (await reader.recv(signal)).ack();
  const left = db.prepare("SELECT foreign_id FROM stepwise_events WHERE topic = 't'").pluck().all();
  assert.deepEqual(left, ["new"], "the event older than maxAgeMs went although idle never read it");
});

/** Which file each scheduler made by the role-scheduler cases works on, for loseLease. */
const schedulerFiles = new Map<SqliteRoleScheduler, string>();
/** The handle of each scheduler standing in for a process, closed to crash it. */
const memberDbs = new Map<SqliteRoleScheduler, Database.Database>();
for (const c of roleSchedulerCases(
  async () => {
    const db = freshDb();
    const scheduler = new SqliteRoleScheduler({ db, leaseTtl: 300, pollingFrequency: 20 });
    schedulers.push(scheduler);
    schedulerFiles.set(scheduler, db.name);
    return scheduler;
  },
  {
    // Another connection expires the lease, as if its holder had failed to renew it in time:
    // the holder's next renewal finds it run out, and the waiter takes the role.
    loseLease: async (scheduler, role) => {
      const other = new Database(schedulerFiles.get(scheduler) ?? "");
      try {
        const { changes } = other.prepare("UPDATE stepwise_leases SET expires_at = 0 WHERE role = ?").run(role);
        assert.equal(changes, 1, "the role has a lease row");
      } finally {
        other.close();
      }
    },
    spread: {
      // One file, a Database handle per scheduler, as separate processes would have.
      makeMembers: async (count) => {
        const path = freshDb().name;
        return Array.from({ length: count }, () => {
          const db = connect(path);
          const scheduler = new SqliteRoleScheduler({ db, leaseTtl: 300, pollingFrequency: 20 });
          schedulers.push(scheduler);
          memberDbs.set(scheduler, db);
          return scheduler;
        });
      },
      // A closed handle renews nothing and releases nothing, as a process that died.
      crash: async (scheduler) => {
        memberDbs.get(scheduler)?.close();
      },
      takeoverMs: 600,
      diagnostic: (message) => console.log(`sqlite: ${message}`),
    },
  },
)) {
  test(`sqlite: ${c.name}`, c.run);
}

test("sqlite: a lease taken over by another process ends the holder's lease", async () => {
  const db = freshDb();
  const scheduler = new SqliteRoleScheduler({ db, leaseTtl: 300, pollingFrequency: 20 });
  schedulers.push(scheduler);
  const lease = await scheduler.await("stolen", AbortSignal.timeout(5_000));
  const other = connect(db.name);
  other.prepare("UPDATE stepwise_leases SET owner = 'someone else', expires_at = ? WHERE role = ?").run(Date.now() + 60_000, "stolen");
  await bounded(
    "the holder's lease to end",
    new Promise<void>((resolve) => lease.signal.addEventListener("abort", () => resolve(), { once: true })),
  );
  assert.ok(hasErrorCode(lease.signal.reason, "ROLE_LOST"), String(lease.signal.reason));
  assert.match(String(lease.signal.reason), /the lease on role "stolen" was lost/);
  await lease.release();
  assert.equal(count(other, "SELECT count(*) AS n FROM stepwise_leases WHERE owner = 'someone else'"), 1, "releasing a lost lease leaves the new holder's row");
});

test("sqlite: migrate is idempotent, and sql/sqlite.sql is its DDL for the default prefix", () => {
  const db = connect();
  migrate(db);
  migrate(db);
  migrate(db, { prefix: "other_" });
  assert.equal(count(db, "SELECT count(*) AS n FROM stepwise_schema_version"), 1, "one schema version row");
  assert.equal(count(db, "SELECT max(version) AS n FROM stepwise_schema_version"), schemaVersion);
  assert.equal(count(db, "SELECT count(*) AS n FROM sqlite_master WHERE name = 'other_records'"), 1, "another prefix gets its own tables");
  const shipped = readFileSync(new URL("../../sql/sqlite.sql", import.meta.url), "utf8");
  assert.equal(shipped, schemaSql(), "sql/sqlite.sql is schemaSql() for the default prefix");
  assert.throws(() => schemaSql("bad-prefix;"), InvalidOptionError);
});

test("sqlite: migrate brings a timeouts table of layout 1 to the current layout, keeping its rows as their status's first timeout", async () => {
  const db = connect();
  // The timeouts table as layout 1 made it, with one timeout in it.
  db.exec(`CREATE TABLE stepwise_timeouts (
    id INTEGER PRIMARY KEY AUTOINCREMENT, workflow_name TEXT NOT NULL, foreign_id TEXT NOT NULL, run_id TEXT NOT NULL,
    status INTEGER NOT NULL, expire_at INTEGER NOT NULL, created_at INTEGER NOT NULL);
  CREATE TABLE stepwise_schema_version (version INTEGER NOT NULL PRIMARY KEY, applied_at INTEGER NOT NULL);
  INSERT INTO stepwise_schema_version VALUES (1, 0);
  INSERT INTO stepwise_timeouts (workflow_name, foreign_id, run_id, status, expire_at, created_at) VALUES ('w', 'f-1', 'r-1', 1, 0, 0);`);
  migrate(db);
  migrate(db);
  assert.equal(count(db, "SELECT max(version) AS n FROM stepwise_schema_version"), schemaVersion);
  const store = new SqliteTimeoutStore({ db });
  await store.create({ workflowName: "w", foreignId: "f-1", runId: "r-1", status: 1, index: 1, expireAt: new Date(1) });
  const listed = await store.listValid("w", 1, new Date(1));
  assert.deepEqual(listed.map((t) => [t.runId, t.index]), [["r-1", 0], ["r-1", 1]]);
});

test("sqlite: migrate brings a records table of layout 2 to the current layout, its runs reading back without a trace context, as workflow version 1", async () => {
  const db = connect();
  // The records table as layout 2 made it, with one run in it.
  db.exec(`CREATE TABLE stepwise_records (
    seq INTEGER PRIMARY KEY, run_id TEXT NOT NULL UNIQUE, workflow_name TEXT NOT NULL, foreign_id TEXT NOT NULL,
    run_state INTEGER NOT NULL, status INTEGER NOT NULL, object BLOB NOT NULL, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,
    version INTEGER NOT NULL, run_state_reason TEXT NOT NULL DEFAULT '', status_description TEXT NOT NULL DEFAULT '',
    trace_origin TEXT NOT NULL DEFAULT '');
  CREATE TABLE stepwise_schema_version (version INTEGER NOT NULL PRIMARY KEY, applied_at INTEGER NOT NULL);
  INSERT INTO stepwise_schema_version VALUES (2, 0);
  INSERT INTO stepwise_records (run_id, workflow_name, foreign_id, run_state, status, object, created_at, updated_at, version)
    VALUES ('r-1', 'w', 'f-1', 2, 1, X'7B7D', 0, 0, 1);`);
  migrate(db);
  migrate(db);
  assert.equal(count(db, "SELECT max(version) AS n FROM stepwise_schema_version"), schemaVersion);
  const store = new SqliteRecordStore({ db });
  const old = await store.lookup("r-1");
  assert.deepEqual(old.meta, { runStateReason: "", statusDescription: "", version: 1, workflowVersion: 1, traceOrigin: "" });
  const traceParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  await store.store({ ...old, meta: { ...old.meta, version: 2, workflowVersion: 2, traceParent } });
  assert.deepEqual((await store.lookup("r-1")).meta, { ...old.meta, version: 2, workflowVersion: 2, traceParent });
});

test("sqlite: a status's reminder and expiry each fire once", async () => {
  let adapters: ReturnType<typeof sqlite> | undefined;
  try {
    await reminderThenExpiry((clock) => (adapters = sqlite(freshPath(), { clock })));
  } finally {
    await adapters?.close();
  }
});

test("sqlite: adapters on a database without tables throw SchemaMissingError naming the table and migrate", async () => {
  const db = connect();
  const isSchemaMissing = (table: string) => (err: unknown) => {
    assert.equal((err as { code?: unknown }).code, "SCHEMA_MISSING");
    assert.match(String(err), /migrate/);
    assert.ok(String(err).includes(table), `the message names ${table}: ${String(err)}`);
    return true;
  };
  const store = new SqliteRecordStore({ db });
  await assert.rejects(store.lookup("r-1"), isSchemaMissing("stepwise_records"));
  await assert.rejects(store.store(makeRecord()), isSchemaMissing("stepwise_records"));
  await assert.rejects(new SqliteTimeoutStore({ db }).list("w"), isSchemaMissing("stepwise_timeouts"));
  await assert.rejects(new SqliteEventStreamer({ db }).newReceiver("t", "r"), isSchemaMissing("stepwise_cursors"));
});

test("sqlite: a path in a missing directory is refused, naming the directory, and nothing is created", () => {
  const missing = join(dir, "no-such-directory");
  assert.throws(
    () => sqlite(join(missing, "orders.db")),
    (err: unknown) => err instanceof Error && err.message.includes(`directory "${missing}" does not exist`),
  );
  assert.equal(existsSync(missing), false, "the directory was not created");
});

test("sqlite: a file that is not a SQLite database is refused, naming it, and left unchanged", () => {
  const path = freshPath();
  const bytes = Buffer.from("these are the minutes of the meeting, not a database\n".repeat(100));
  writeFileSync(path, bytes);
  assert.throws(
    () => sqlite(path),
    (err: unknown) => err instanceof Error && err.message.includes(`"${path}" is not a SQLite database`),
  );
  assert.deepEqual(readFileSync(path), bytes, "the file's bytes are unchanged");
  assert.deepEqual(readdirSync(dir).filter((name) => name.startsWith(`case-${fileCount}.db`)), [`case-${fileCount}.db`], "no -wal or -shm left beside it");

  // The same through migrate on a Database the user opened: the error names the file, the
  // Database stays open (stepwise never closes what it was given).
  const db = new Database(path);
  try {
    assert.throws(() => migrate(db), (err: unknown) => err instanceof Error && err.message.includes(`"${path}" is not a SQLite database`));
    assert.throws(() => sqlite(db), /is not a SQLite database/);
    assert.equal(db.open, true);
  } finally {
    db.close();
  }
  assert.deepEqual(readFileSync(path), bytes, "still unchanged");
});

test("sqlite: a database from a newer stepwise schema is refused and left unchanged", async () => {
  const path = freshPath();
  const adapters = sqlite(path);
  await adapters.recordStore.store(makeRecord());
  adapters.db.prepare("INSERT INTO stepwise_schema_version (version, applied_at) VALUES (?, 0)").run(schemaVersion + 1);
  await adapters.close();
  const before = readFileSync(path);
  const files = readdirSync(dir).filter((name) => name.startsWith(`case-${fileCount}.db`));

  const newer = new RegExp(`layout version ${schemaVersion + 1}, newer than the version ${schemaVersion}`);
  assert.throws(() => sqlite(path), newer);
  assert.deepEqual(readFileSync(path), before, "the file's bytes are unchanged");
  assert.deepEqual(readdirSync(dir).filter((name) => name.startsWith(`case-${fileCount}.db`)), files, "no files added beside it");

  const db = new Database(path, { readonly: true });
  try {
    const schema = () => db.prepare("SELECT type, name, sql FROM sqlite_master ORDER BY name").all();
    const tables = schema();
    assert.throws(() => migrate(db), newer);
    assert.throws(() => sqlite(db), newer);
    assert.deepEqual(schema(), tables, "the schema is unchanged");
    assert.equal(db.open, true, "a Database the user passed stays open");
  } finally {
    db.close();
  }
  assert.deepEqual(readFileSync(path), before, "still unchanged");
});

test("sqlite: an object over maxObjectBytes is an ObjectTooLargeError and nothing is written", async () => {
  const db = freshDb();
  const store = new SqliteRecordStore({ db, maxObjectBytes: 1024, events: "table" });
  const tooBig = makeRecord({ object: new Uint8Array(1025) });
  await assert.rejects(store.store(tooBig), (err: unknown) => {
    assert.equal((err as { code?: unknown }).code, "OBJECT_TOO_LARGE");
    assert.match(String(err), /1025 bytes/);
    return true;
  });
  await assert.rejects(store.lookup(tooBig.runId), { code: "RECORD_NOT_FOUND" });
  assert.equal(count(db, "SELECT count(*) AS n FROM stepwise_events"), 0, "no event");
  const fits = makeRecord({ object: new Uint8Array(1024).fill(7) });
  await store.store(fits);
  assert.deepEqual((await store.lookup(fits.runId)).object, fits.object);
});

test("sqlite: a row that cannot be read back is a MalformedRecordError naming the field", async () => {
  const db = freshDb();
  const store = new SqliteRecordStore({ db });
  const record = makeRecord();
  await store.store(record);
  db.prepare("UPDATE stepwise_records SET run_state = 42 WHERE run_id = ?").run(record.runId);
  await assert.rejects(store.lookup(record.runId), (err: unknown) => {
    assert.equal((err as { code?: unknown }).code, "MALFORMED_RECORD");
    assert.match(String(err), /run_state 42/);
    return true;
  });
  db.prepare("UPDATE stepwise_records SET run_state = 1, object = 'text' WHERE run_id = ?").run(record.runId);
  await assert.rejects(store.lookup(record.runId), /object is missing or not bytes/);
});

test("sqlite: in events-table mode a record and its event are written together or not at all", async () => {
  const db = freshDb();
  const store = new SqliteRecordStore({ db, events: "table" });
  const events = (runId: string) => count(db, "SELECT count(*) AS n FROM stepwise_events WHERE json_extract(headers, '$.run_id') = ?", runId);
  const record = makeRecord();
  await store.store(record);
  assert.equal(events(record.runId), 1);
  assert.deepEqual(await store.listOutboxEvents(record.workflowName, 10), [], "no outbox row");
  await assert.rejects(store.store(record), { code: "VERSION_CONFLICT" });
  assert.equal(events(record.runId), 1, "a refused write adds no event");

  // Stores made together share one transaction; each is still all or nothing on its own.
  const a = makeRecord();
  const b = makeRecord({ workflowName: a.workflowName, foreignId: a.foreignId });
  const c = makeRecord();
  const results = await Promise.allSettled([store.store(a), store.store(b), store.store(c)]);
  assert.deepEqual(results.map((r) => r.status), ["fulfilled", "rejected", "fulfilled"]);
  assert.equal(((results[1] as PromiseRejectedResult).reason as { code?: unknown }).code, "WORKFLOW_IN_PROGRESS");
  assert.deepEqual([events(a.runId), events(b.runId), events(c.runId)], [1, 0, 1], "events only for the stores that succeeded");
  await assert.rejects(store.lookup(b.runId), { code: "RECORD_NOT_FOUND" });
});

test("sqlite: a store in events-table mode wakes a waiting receiver at once, without polling", async () => {
  const db = freshDb();
  const s = streamer(db);
  const store = new SqliteRecordStore({ db, events: "table", onEventCommitted: s.notify });
  const record = makeRecord();
  const topic = topicOf(record.workflowName, 1);
  // A poll this slow would fail the test's bound: only the push can deliver in time.
  const receiver = await s.newReceiver(topic, "pushed", { pollingFrequency: 600_000 });
  try {
    const waiting = receiver.recv(AbortSignal.timeout(5_000));
    await store.store(record);
    const { event, ack } = await waiting;
    assert.equal(event.headers.run_id, record.runId);
    await ack();
  } finally {
    await receiver.close();
  }
});

test("sqlite: receivers see events written by another connection to the file, and by an unwired store on their own", async () => {
  const db = freshDb();
  const other = connect(db.name);
  const s = streamer(db);
  const receiver = await s.newReceiver("elsewhere", "poller", { pollingFrequency: 20 });
  const waiting = receiver.recv(AbortSignal.timeout(5_000));
  await (await new SqliteEventStreamer({ db: other }).newSender("elsewhere")).send("from-other-connection", 1, {});
  assert.equal((await waiting).event.foreignId, "from-other-connection");

  // A store on the same connection that was not given onEventCommitted: found by the poll too.
  const unwired = new SqliteRecordStore({ db, events: "table" });
  const record = makeRecord();
  const onTopic = await s.newReceiver(topicOf(record.workflowName, 1), "poller", { pollingFrequency: 20 });
  const next = onTopic.recv(AbortSignal.timeout(5_000));
  await unwired.store(record);
  assert.equal((await next).event.headers.run_id, record.runId);
  await Promise.all([receiver.close(), onTopic.close()]);
});

test("sqlite: a receiver's position survives a new streamer on the same file", async () => {
  const path = freshPath();
  const first = sqlite(path);
  const sender = await first.eventStreamer.newSender("resume");
  for (const id of ["a", "b", "c"]) await sender.send(id, 1, {});
  const receiver = await first.eventStreamer.newReceiver("resume", "group");
  const a = await receiver.recv(AbortSignal.timeout(5_000));
  await a.ack();
  await first.close();
  assert.equal(first.db.open, false, "close() closes a database sqlite() opened");

  const second = sqlite(path);
  const resumed = await second.eventStreamer.newReceiver("resume", "group");
  assert.equal((await resumed.recv(AbortSignal.timeout(5_000))).event.foreignId, "b");
  await second.close();
});

test("sqlite: close() leaves a Database the user passed open", async () => {
  const db = connect();
  const adapters = sqlite(db);
  await adapters.close();
  assert.equal(db.open, true);
  assert.equal(count(db, "SELECT count(*) AS n FROM stepwise_records"), 0, "and migrated it");
});

test("sqlite: 500 runs of a three-step workflow on sqlite(path) over two shards each complete, each transition and its event stored once", async () => {
  const adapters = sqlite(freshPath());
  try {
    const runIds = await lineRunsComplete(adapters, { runs: 500, name: "sqlite-line", outbox: false });
    const perRun = adapters.db
      .prepare("SELECT json_extract(headers, '$.run_id') AS run_id, count(*) AS events FROM stepwise_events GROUP BY 1")
      .all() as { run_id: string; events: number }[];
    assert.deepEqual(perRun.map((row) => row.run_id).sort(), [...runIds].sort(), "every run has events");
    assert.ok(perRun.every((row) => row.events === 4), "one event per stored version");
    await failingRunDoesNotBlock(adapters, "sqlite-head-of-line");
  } finally {
    await adapters.close();
  }
});

test("sqlite: a run with a malformed row is skipped, never blocks its status, and can be cancelled", async () => {
  const bundle = sqlite(freshPath());
  try {
    await malformedRunIsSkippedAndCancellable(bundle, "sqlite-malformed", async (runId) => {
      bundle.db.prepare("UPDATE stepwise_records SET run_state = 99 WHERE run_id = ?").run(runId);
    });
  } finally {
    await bundle.close();
  }
});
