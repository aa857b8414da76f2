import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import Database from "better-sqlite3";
import fc from "fast-check";
import { createPool, type RowDataPacket } from "mysql2/promise";
import { Builder, durationTimer, topic, type BuildConfig, type Record, type OutboxEvent, type RecordStore, type TimeoutRecord, type TimeoutStore, type Workflow } from "stepwise";
import { makeRecord } from "stepwise/adaptertest";
import { memory, MemoryEventStreamer, MemoryRoleScheduler } from "stepwise/memory";
import { migrate as migrateMysql, mysql, MysqlRecordStore, MysqlTimeoutStore } from "stepwise/mysql";
import { migrate as migratePostgres, postgres, PostgresRecordStore, PostgresTimeoutStore } from "stepwise/postgres";
import { redis, RedisRecordStore, RedisTimeoutStore } from "stepwise/redis";
import { webui } from "stepwise/webui";
import { sqlite, SqliteRecordStore, SqliteTimeoutStore, migrate as migrateSqlite } from "stepwise/sqlite";
import { stepwise } from "./support/cli.js";
import { errorsTo } from "./support/logger.js";
import { freshSchema } from "./support/postgres.js";
import { propertyParameters } from "./support/properties.js";
import { deleteKeys, freshPrefix, redisClient } from "./support/redis.js";
import { until } from "./support/until.js";
import { Status, type Item } from "./support/workflows.js";

const dir = mkdtempSync(join(tmpdir(), "stepwise-bad-input-"));
const mysqlPool = createPool({ host: "127.0.0.1", port: Number(process.env.MYSQL_PORT ?? 3306), user: "root", database: "test", timezone: "Z" });
const mysqlPrefix = `bad_${randomBytes(4).toString("hex")}_`;
const redisPrefix = freshPrefix("bad-input");
const client = redisClient();
let pg: Awaited<ReturnType<typeof freshSchema>> | undefined;
let mysqlMigrated: Promise<void> | undefined;

after(async () => {
  const [tables] = await mysqlPool.query<({ t: string } & RowDataPacket)[]>(
    "SELECT table_name AS t FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name LIKE ?",
    [`${mysqlPrefix}%`],
  );
  for (const { t } of tables) await mysqlPool.query(`DROP TABLE IF EXISTS \`${t}\``);
  await mysqlPool.end();
  await deleteKeys(client, redisPrefix);
  client.disconnect();
  await pg?.drop();
  rmSync(dir, { recursive: true, force: true });
});

async function postgresDb(): Promise<NonNullable<typeof pg>> {
  pg ??= await freshSchema({ max: 5 });
  return pg;
}
async function mysqlReady(): Promise<void> {
  await (mysqlMigrated ??= migrateMysql(mysqlPool, { prefix: mysqlPrefix }));
}

/** A store of each SQL and Redis adapter, and how to edit a run's row behind its back (an SQL assignment, or a Redis hash field). */
interface Backend {
  name: string;
  store: RecordStore;
  tamper(runId: string, edit: string): Promise<unknown>;
}
async function backends(): Promise<Backend[]> {
  const db = new Database(join(dir, `records-${randomBytes(3).toString("hex")}.db`));
  migrateSqlite(db);
  const { pool, schema } = await postgresDb();
  await mysqlReady();
  return [
    {
      name: "sqlite",
      store: new SqliteRecordStore({ db }),
      tamper: async (runId, edit) => db.prepare(`UPDATE stepwise_records SET ${edit} WHERE run_id = ?`).run(runId),
    },
    {
      name: "postgres",
      store: new PostgresRecordStore({ pool, schema }),
      tamper: (runId, edit) => pool.query(`UPDATE "${schema}".stepwise_records SET ${edit} WHERE run_id = $1`, [runId]),
    },
    {
      name: "mysql",
      store: new MysqlRecordStore({ pool: mysqlPool, prefix: mysqlPrefix }),
      tamper: (runId, edit) => mysqlPool.query(`UPDATE \`${mysqlPrefix}records\` SET ${edit} WHERE run_id = ?`, [runId]),
    },
    {
      name: "redis",
      store: new RedisRecordStore({ client, prefix: redisPrefix }),
      // "-o" deletes field o; "s 99" sets field s to 99.
      tamper: (runId, edit) => {
        const key = `${redisPrefix}run:${runId}`;
        const [field = "", value = ""] = edit.split(" ");
        return field.startsWith("-") ? client.hdel(key, field.slice(1)) : client.hset(key, field, value);
      },
    },
  ];
}

/** Names and ids that have broken stores: SQL and LIKE metacharacters, key separators, quotes, unicode. */
const hostile = [
  "'; DROP TABLE x; --",
  `"quoted" \`back\` 'single'`,
  "100%_off",
  "$1 $$ ?",
  "back\\slash\\\\",
  "{tag}:a:*:b c",
  "line\nbreak\r\ttab",
  "emoji \ud83d\ude00\ud83d\udc68\u200d\ud83d\udc69\u200d\ud83d\udc67",
  "\u05e9\u05dc\u05d5\u05dd rtl \u202e",
  "e\u0301 combining",
  " padded ",
  "*",
  "%",
  "_",
];

/** Text a store must keep exactly: anything without a NUL or a lone surrogate (both are refused earlier, by the engine). */
const storableText = fc
  .string({ unit: fc.oneof(fc.constantFrom("'", '"', "\\", "%", "_", "$", ":", "{", "}", "*", " ", "\n", ";", "-", "\u0301", "\u202e"), fc.string({ unit: "grapheme", minLength: 1, maxLength: 1 })), minLength: 1, maxLength: 24 })
  .filter((s) => !s.includes("\u0000"));

test("names, foreign ids and run ids with SQL, LIKE and key metacharacters round-trip exactly on every store", async () => {
  for (const { name, store } of await backends()) {
    const check = async (workflowName: string, foreignId: string) => {
      const record = makeRecord({ workflowName, foreignId });
      await store.store(record);
      const found = await store.lookup(record.runId);
      assert.equal(found.workflowName, workflowName, name);
      assert.equal(found.foreignId, foreignId, name);
      assert.equal((await store.latest(workflowName, foreignId)).runId, record.runId, name);
      const listed = await store.list({ workflowName, limit: 10, filter: { foreignId: [foreignId] } });
      assert.deepEqual(
        listed.map((r) => r.runId),
        [record.runId],
        `${name}: a filter matches exactly, never as a pattern`,
      );
    };
    for (const text of hostile) await check(`wf ${text}`, text);
    // A name that is a pattern of another ("%" and "_") finds only its own run.
    await check("x%", "a_c");
    await assert.rejects(store.latest("x%", "abc"), { code: "RECORD_NOT_FOUND" }, name);
    await assert.rejects(store.latest("x_", "a_c"), { code: "RECORD_NOT_FOUND" }, name);
    await fc.assert(
      fc.asyncProperty(storableText, storableText, (w, f) => check(w, f)),
      { seed: 13, numRuns: 25 },
    );
    for (const runId of hostile) await assert.rejects(store.lookup(runId), { code: "RECORD_NOT_FOUND" }, `${name}: lookup(${JSON.stringify(runId)})`);
    // Text no store keeps: a lookup by it finds nothing, or refuses it; never an error of the database.
    for (const text of ["a\u0000b", "a\ud800b"]) {
      const typed = { code: /^(RECORD_NOT_FOUND|VALUE_NOT_STORABLE)$/ };
      await assert.rejects(store.lookup(text), typed, `${name}: lookup(${JSON.stringify(text)})`);
      await assert.rejects(store.latest(text, text), typed, `${name}: latest(${JSON.stringify(text)})`);
      const listed = await store.list({ workflowName: text, limit: 1, filter: { foreignId: [text] } }).catch((err: unknown) => err);
      assert.ok(Array.isArray(listed) ? listed.length === 0 : typed.code.test(String((listed as { code?: unknown }).code)), `${name}: list: ${String(listed)}`);
    }
    for (const id of ["'; DROP TABLE x; --", "1 OR 1=1", "-1", "99999999999999999999999", "a/1-0", "{x}/1-1"]) {
      await assert.rejects(store.deleteOutboxEvent(id), { code: "OUTBOX_RECORD_NOT_FOUND" }, `${name}: deleteOutboxEvent(${JSON.stringify(id)})`);
    }
  }
});

test("an object over the store's limit is refused with a typed error, leaving the stored run as it was", async () => {
  const { pool, schema } = await postgresDb();
  await mysqlReady();
  const db = new Database(join(dir, "limit.db"));
  migrateSqlite(db);
  const limited = [
    new SqliteRecordStore({ db, maxObjectBytes: 1024 }),
    new PostgresRecordStore({ pool, schema, maxObjectBytes: 1024 }),
    new MysqlRecordStore({ pool: mysqlPool, prefix: mysqlPrefix, maxObjectBytes: 1024 }),
    new RedisRecordStore({ client, prefix: redisPrefix, maxObjectBytes: 1024 }),
  ];
  try {
    for (const store of limited) {
      const record = makeRecord({ object: new Uint8Array(randomBytes(256)) });
      await store.store(record);
      const next: Record = { ...record, object: new Uint8Array(1025), meta: { ...record.meta, version: 2 } };
      await assert.rejects(store.store(next), { code: "OBJECT_TOO_LARGE" }, store.constructor.name);
      assert.deepEqual(await store.lookup(record.runId), record, `${store.constructor.name}: the stored run is unchanged`);
      await store.store({ ...next, object: new Uint8Array(1024).fill(1) });
      assert.equal((await store.lookup(record.runId)).meta.version, 2);
    }
  } finally {
    db.close();
  }
});

/**
 * Event rows no sender wrote (bad JSON, headers that are not an object of strings, no run id, a
 * version that is no number) sit first on a workflow's topic: a run triggered after them completes.
 */
async function eventsBehindJunkComplete(adapters: Omit<BuildConfig<Item>, "logger">, name: string, inject: (topic: string) => Promise<void>): Promise<void> {
  const errors: unknown[] = [];
  const b = new Builder<Item, Status>(name, Status);
  b.addStep(Status.Created, async () => Status.Done, Status.Done);
  const wf = b.build({ ...adapters, logger: errorsTo(errors) });
  try {
    await inject(topic(name, Status.Created));
    await wf.run();
    const healthy = await wf.trigger("healthy", { initialValue: { id: "healthy", count: 0 } });
    assert.equal((await wf.await("healthy", healthy, Status.Done, { timeoutMs: 10_000 })).status, Status.Done, name);
  } finally {
    await wf.stop();
  }
}

const junkHeaders = ["not json", "null", '{"run_id":[1]}', "[1,2]", '"text"', "{}", '{"run_id":5,"record_version":"abc"}', '{"run_id":"no-such-run","record_version":"x"}', "{\"run_id\":null}"];

test("an event row no sender wrote is let go on every SQL and Redis streamer, and the runs behind it complete", async () => {
  const sqlitePath = join(dir, "events.db");
  const sqliteAdapters = sqlite(sqlitePath);
  const raw = new Database(sqlitePath);
  try {
    await eventsBehindJunkComplete(sqliteAdapters, "junk-sqlite", async (t) => {
      const insert = raw.prepare("INSERT INTO stepwise_events (topic, foreign_id, type, headers, created_at) VALUES (?, ?, ?, ?, ?)");
      for (const headers of junkHeaders) insert.run(t, "junk", Status.Created, headers, Date.now());
      insert.run(t, "junk", "not a number", "{}", "yesterday");
      insert.run(t, "junk", Status.Created, "{}", 2 ** 53 - 1);
      insert.run(t, Buffer.from([0xff]), Status.Created, Buffer.from("{}"), Date.now());
    });
  } finally {
    raw.close();
    await sqliteAdapters.close();
  }

  await mysqlReady();
  const mysqlAdapters = mysql({ pool: mysqlPool, prefix: mysqlPrefix });
  try {
    await eventsBehindJunkComplete(mysqlAdapters, "junk-mysql", async (t) => {
      for (const headers of junkHeaders) {
        await mysqlPool.query(`INSERT INTO \`${mysqlPrefix}events\` (topic, foreign_id, type, headers, created_at) VALUES (?, 'junk', ?, ?, NOW(3))`, [t, Status.Created, headers]);
      }
    });
  } finally {
    await mysqlAdapters.close();
  }

  const { pool, schema } = await postgresDb();
  const pgAdapters = postgres({ pool, schema });
  try {
    await eventsBehindJunkComplete(pgAdapters, "junk-postgres", async (t) => {
      for (const headers of junkHeaders.filter((h) => h !== "not json")) {
        await pool.query(`INSERT INTO "${schema}".stepwise_events (topic, foreign_id, type, headers) VALUES ($1, 'junk', $2, $3::jsonb)`, [t, Status.Created, headers]);
      }
    });
  } finally {
    await pgAdapters.close();
  }

  const redisAdapters = redis({ client, prefix: redisPrefix });
  try {
    await eventsBehindJunkComplete(redisAdapters, "junk-redis", async (t) => {
      for (const headers of junkHeaders) await client.xadd(redisPrefix + t, "*", "foreign_id", "junk", "type", "1", "headers", headers);
      await client.xadd(redisPrefix + t, "*", "type", "x", "created_at", "yesterday");
      await client.xadd(redisPrefix + t, "*", "unrelated", "field");
    });
  } finally {
    await redisAdapters.close();
  }
});

/** Column (or hash field) edits no store makes, per backend; each leaves a row that cannot be a record. */
const tamperings: { [backend: string]: string[] } = {
  sqlite: ["run_state = 'x'", "status = 'abc'", "status = 1.5", "version = 0", "version = 'x'", "created_at = 'garbage'", "object = 'text'", "workflow_name = X'FF'", "foreign_id = zeroblob(2)"],
  postgres: ["run_state = 42", "run_state = -1", "version = 0", "version = -5", "created_at = 'infinity'", "updated_at = '-infinity'"],
  mysql: ["run_state = 99", "version = 0", "created_at = '0000-00-00 00:00:00'"],
  redis: ["s x", "s 99", "t abc", "t 1.5", "v 0", "v x", "c soon", "u ", "-o", "-w"],
};

test("a tampered stored row is a MalformedRecordError on every store, and the runs beside it stay readable and unchanged", async () => {
  for (const { name, store, tamper } of await backends()) {
    const workflowName = `tampered-${name}`;
    const neighbour = makeRecord({ workflowName, foreignId: "neighbour" });
    await store.store(neighbour);
    for (const edit of tamperings[name] ?? []) {
      const victim = makeRecord({ workflowName });
      await store.store(victim);
      await tamper(victim.runId, edit);
      await assert.rejects(store.lookup(victim.runId), { code: "MALFORMED_RECORD" }, `${name}: ${edit}`);
      // An edit of the ids takes the run out of its workflow's index: latest no longer finds it.
      if (!/workflow_name|foreign_id|^-w/.test(edit)) await assert.rejects(store.latest(workflowName, victim.foreignId), { code: "MALFORMED_RECORD" }, `${name}: ${edit}`);
      assert.deepEqual(await store.lookup(neighbour.runId), neighbour, `${name}: ${edit} left the neighbour as it was`);
    }
  }
});

const hostileNames = ['a"b', "a'b", "a.b", "a b", "a;b", "a-b", "a`b", "\u00e9t\u00e9", "a\nb"];

test("a schema or table prefix that cannot be spliced into SQL is refused when the adapter is made", async () => {
  const { pool } = await postgresDb();
  for (const schema of [...hostileNames, "", "1st", "s".repeat(64)]) {
    assert.throws(() => postgres({ pool, schema }), { code: "INVALID_OPTION" }, `postgres schema ${JSON.stringify(schema)}`);
  }
  // Over-long: each database's identifier limit less the longest table or index name after the prefix.
  assert.throws(() => postgres({ pool, prefix: "p".repeat(46) }), { code: "INVALID_OPTION" });
  assert.throws(() => mysql({ pool: mysqlPool, prefix: "p".repeat(51) }), { code: "INVALID_OPTION" });
  assert.throws(() => sqlite(join(dir, "refused.db"), { prefix: "p".repeat(65) }), { code: "INVALID_OPTION" });
  for (const prefix of hostileNames) {
    assert.throws(() => postgres({ pool, prefix }), { code: "INVALID_OPTION" }, `postgres prefix ${JSON.stringify(prefix)}`);
    assert.throws(() => mysql({ pool: mysqlPool, prefix }), { code: "INVALID_OPTION" }, `mysql prefix ${JSON.stringify(prefix)}`);
    assert.throws(() => sqlite(join(dir, "refused.db"), { prefix }), { code: "INVALID_OPTION" }, `sqlite prefix ${JSON.stringify(prefix)}`);
  }
  await assert.rejects(migrateMysql(mysqlPool, { prefix: "x`; DROP TABLE y; --" }), { code: "INVALID_OPTION" });
});

test("postgres: prefixes that differ only in case each get their own tables and their own unique index of unfinished runs", async () => {
  const { pool, schema } = await postgresDb();
  const upperSchema = `${schema.toUpperCase()}_X`;
  try {
    // An upper-case schema is quoted wherever it is used, so it is not the lower-case one.
    const stores: PostgresRecordStore[] = [];
    for (const prefix of ["Ab_", "ab_"]) {
      await migratePostgres(pool, { schema: upperSchema, prefix });
      stores.push(new PostgresRecordStore({ pool, schema: upperSchema, prefix }));
    }
    const [upper, lower] = stores as [PostgresRecordStore, PostgresRecordStore];
    const record = makeRecord();
    await upper.store(record);
    await assert.rejects(lower.lookup(record.runId), { code: "RECORD_NOT_FOUND" });
    for (const store of stores) {
      const first = makeRecord({ workflowName: "same", foreignId: "f" });
      await store.store(first);
      await assert.rejects(store.store(makeRecord({ workflowName: "same", foreignId: "f" })), { code: "WORKFLOW_IN_PROGRESS" });
    }
  } finally {
    await pool.query(`DROP SCHEMA IF EXISTS "${upperSchema}" CASCADE`);
  }
});

test("sqlite: a path with quotes, spaces, unicode and SQL in it opens, and keeps runs", async () => {
  const path = join(dir, `it's "a" db; DROP TABLE x; -- \u00e9 \ud83d\ude00.db`);
  const adapters = sqlite(path);
  try {
    const record = makeRecord();
    await adapters.recordStore.store(record);
    assert.deepEqual(await adapters.recordStore.lookup(record.runId), record);
  } finally {
    await adapters.close();
  }
});

test("redis: a prefix with key and pattern metacharacters keeps its runs to itself", async () => {
  const prefixes = ["{tag}", "*", "a b", "line\nbreak:", "[ab]?"].map((p) => `${redisPrefix}${p}`);
  const stores = prefixes.map((prefix) => new RedisRecordStore({ client, prefix }));
  const records = stores.map(() => makeRecord({ workflowName: "shared", foreignId: "f" }));
  for (const [i, store] of stores.entries()) await store.store(records[i] as Record);
  for (const [i, store] of stores.entries()) {
    assert.deepEqual(await store.lookup(records[i]!.runId), records[i]);
    assert.deepEqual(
      (await store.list({ workflowName: "shared", limit: 10 })).map((r) => r.runId),
      [records[i]!.runId],
      `prefix ${JSON.stringify(prefixes[i])} lists only its own run`,
    );
  }
});

/** What each backend writes for an object that is not JSON: one byte no UTF-8 text starts with. */
const undecodable: { [backend: string]: string } = { sqlite: "object = X'FF'", postgres: "object = '\\xff'::bytea", mysql: "object = X'FF'", redis: "o \u00ff" };

test("a hostile workflow name and foreign ids work end to end, and an undecodable object is an ObjectDecodeError that changes nothing", async () => {
  const { pool, schema } = await postgresDb();
  await mysqlReady();
  const made = [
    { name: "sqlite", adapters: sqlite(join(dir, "end-to-end.db")) },
    { name: "postgres", adapters: postgres({ pool, schema }) },
    { name: "mysql", adapters: mysql({ pool: mysqlPool, prefix: mysqlPrefix }) },
    { name: "redis", adapters: redis({ client, prefix: redisPrefix }) },
  ];
  const tamperers = new Map((await backends()).map((b) => [b.name, b.tamper]));
  const raw = new Database(join(dir, "end-to-end.db"));
  tamperers.set("sqlite", async (runId, edit) => raw.prepare(`UPDATE stepwise_records SET ${edit} WHERE run_id = ?`).run(runId));
  for (const { name, adapters } of made) {
    const workflowName = `orders '; DROP TABLE x; -- {tag}:* ${name}`;
    const b = new Builder<Item, Status>(workflowName, Status);
    b.addCallback(
      Status.Created,
      async (run, payload) => {
        run.object.count = Number((payload as { count?: unknown }).count);
        return Status.Done;
      },
      Status.Done,
    );
    const wf = b.build({ ...adapters, logger: errorsTo([]) });
    try {
      await wf.run();
      const runIds = new Map<string, string>();
      for (const foreignId of hostile) runIds.set(foreignId, await wf.trigger(foreignId, { initialValue: { id: foreignId, count: 0 } }));
      for (const refused of ["a\u0000b", "a\ud800b", "\udc00"]) {
        await assert.rejects(wf.trigger(refused, { initialValue: { id: "x", count: 0 } }), { code: "VALUE_NOT_STORABLE" }, name);
      }
      const [broken, ...healthy] = hostile;
      const brokenRun = runIds.get(broken as string) as string;
      const before = await adapters.recordStore.lookup(brokenRun);
      await tamperers.get(name)?.(brokenRun, undecodable[name] as string);

      await assert.rejects(wf.get(brokenRun), { code: "OBJECT_DECODE" }, name);
      await assert.rejects(wf.callback(broken as string, Status.Created, { count: 1 }), { code: "OBJECT_DECODE" }, name);
      assert.equal((await adapters.recordStore.lookup(brokenRun)).meta.version, before.meta.version, `${name}: the callback wrote nothing`);
      for (const foreignId of healthy) {
        const { run } = await wf.callback(foreignId, Status.Created, { count: 7 });
        assert.deepEqual([run.foreignId, run.status, run.object], [foreignId, Status.Done, { id: foreignId, count: 7 }], name);
      }

      const ui = webui({ workflows: [wf], token: false });
      const get = async (path: string) => {
        const response = await ui.fetch(new Request(`http://stepwise.test${path}`));
        return { status: response.status, body: (await response.json()) as { runs?: { runId: string }[]; runId?: string; error?: { code: string } } };
      };
      const w = encodeURIComponent(workflowName);
      for (const foreignId of healthy) {
        const listed = await get(`/api/runs?workflow=${w}&foreignId=${encodeURIComponent(foreignId as string)}`);
        assert.equal(listed.status, 200, `${name}: list ${JSON.stringify(foreignId)}`);
        assert.deepEqual(listed.body.runs?.map((r) => r.runId), [runIds.get(foreignId as string)], `${name}: list ${JSON.stringify(foreignId)}`);
        const shown = await get(`/api/runs/${w}/${encodeURIComponent(runIds.get(foreignId as string) as string)}`);
        assert.equal(shown.status, 200, name);
      }
      for (const runId of hostile) {
        const missing = await get(`/api/runs/${w}/${encodeURIComponent(runId)}`);
        assert.deepEqual([missing.status, missing.body.error?.code], [404, "RECORD_NOT_FOUND"], `${name}: run id ${JSON.stringify(runId)}`);
      }
      const shownBroken = await get(`/api/runs/${w}/${brokenRun}`);
      assert.notEqual(shownBroken.status, 500, `${name}: ${JSON.stringify(shownBroken.body)}`);
    } finally {
      await wf.stop();
      await adapters.close();
    }
  }
  raw.close();
});

/** Any value an SQLite column may hold, times past a Date's range among them. */
const sqliteValue = fc.oneof(fc.integer(), fc.double(), fc.string(), fc.uint8Array({ maxLength: 8 }).map((b) => Buffer.from(b)), fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), fc.constantFrom(2 ** 53 - 1, -(2 ** 53), 8.64e15 + 1, 0, -1));
/** Any text a Redis field may hold, numbers no store writes among them; "-" stands for the field deleted. */
const redisValue = fc.oneof(fc.string(), fc.constantFrom("-", "9007199254740991", "8640000000000001", "-1", "0", "1e3", " 5", "0x10", "null", "{}", '{"topic":5}'));

/** A listing's rows, each checked by `wellTyped`, or MalformedRowsError naming each unreadable row with a MalformedRecordError: never another error. */
async function listedOrMalformed<Row>(listing: Promise<Row[]>, wellTyped: (row: Row) => void): Promise<void> {
  const { rows, malformed } = await listing.then(
    (rows) => ({ rows, malformed: [] as { error: { code?: unknown } }[] }),
    (err: { code?: unknown; readable: Row[]; malformed: { error: { code?: unknown } }[] }) => {
      assert.equal(err.code, "MALFORMED_ROWS", String(err));
      return { rows: err.readable, malformed: err.malformed };
    },
  );
  for (const row of rows) wellTyped(row);
  for (const { error } of malformed) assert.equal(error.code, "MALFORMED_RECORD");
}

test("any value in any column of a stored run reads back as a record or a MalformedRecordError, never another error", async () => {
  const db = new Database(join(dir, "fuzz.db"));
  migrateSqlite(db);
  const sqliteStore = new SqliteRecordStore({ db });
  const redisStore = new RedisRecordStore({ client, prefix: redisPrefix });
  const sqliteColumns = ["workflow_name", "foreign_id", "run_state", "status", "object", "created_at", "updated_at", "version", "run_state_reason", "status_description", "trace_origin", "trace_parent", "trace_state"];
  const redisFields = ["w", "f", "s", "t", "o", "c", "u", "v", "r", "d", "g", "p", "q"];
  const outcome = (err: unknown) => {
    assert.equal((err as { code?: unknown }).code, "MALFORMED_RECORD", String(err));
  };
  /** A record that reads is one a store could have written: every field of its type. */
  const wellTyped = (r: Record) => {
    for (const text of [r.workflowName, r.foreignId, r.runId, r.meta.runStateReason, r.meta.statusDescription, r.meta.traceOrigin]) assert.equal(typeof text, "string");
    for (const time of [r.createdAt, r.updatedAt]) assert.ok(time instanceof Date && !Number.isNaN(time.getTime()), `time ${String(time)}`);
    assert.ok(Number.isSafeInteger(r.status) && Number.isSafeInteger(r.meta.version) && r.meta.version >= 1, `status ${r.status} version ${r.meta.version}`);
    assert.ok(r.object instanceof Uint8Array);
  };
  try {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...sqliteColumns), sqliteValue, async (column, value) => {
        const record = makeRecord();
        await sqliteStore.store(record);
        try {
          db.prepare(`UPDATE stepwise_records SET ${column} = ? WHERE run_id = ?`).run(value, record.runId);
        } catch {
          return; // a constraint (NOT NULL, CHECK) refused the edit: nothing to read
        }
        await sqliteStore.lookup(record.runId).then(wellTyped, outcome);
        await listedOrMalformed(sqliteStore.list({ workflowName: record.workflowName, limit: 5 }), wellTyped);
      }),
      propertyParameters(150),
    );
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...redisFields), redisValue, async (field, value) => {
        const record = makeRecord();
        await redisStore.store(record);
        const key = `${redisPrefix}run:${record.runId}`;
        if (value === "-") await client.hdel(key, field);
        else await client.hset(key, field, value);
        await redisStore.lookup(record.runId).then(wellTyped, outcome);
        await listedOrMalformed(redisStore.list({ workflowName: record.workflowName, limit: 5 }), wellTyped);
      }),
      propertyParameters(150),
    );
  } finally {
    db.close();
  }
});

test("the CLI takes hostile workflow names, foreign ids and run ids as plain values, and refuses a hostile schema", async () => {
  const path = join(dir, "cli.db");
  const adapters = sqlite(path);
  const workflowName = "orders '; DROP TABLE x; -- %_ {tag}:*";
  const foreignIds = ["'; DROP TABLE x; --", "100%_off", "emoji \ud83d\ude00 \u05e9\u05dc\u05d5\u05dd"];
  const b = new Builder<Item, Status>(workflowName, Status);
  b.addCallback(Status.Created, async () => Status.Done, Status.Done);
  const wf = b.build(adapters);
  const runIds: string[] = [];
  try {
    await wf.run();
    for (const foreignId of foreignIds) runIds.push(await wf.trigger(foreignId, { initialValue: { id: foreignId, count: 0 } }));
  } finally {
    await wf.stop();
    await adapters.close();
  }
  const listed = await stepwise(["runs", "list", "--sqlite", path, "--workflow", workflowName, "--foreign-id", foreignIds[1] as string, "--json"]);
  assert.equal(listed.code, 0, listed.stderr);
  assert.deepEqual((JSON.parse(listed.stdout) as { runs: { runId: string; foreignId: string }[] }).runs.map((r) => [r.runId, r.foreignId]), [[runIds[1], foreignIds[1]]]);
  const missing = await stepwise(["runs", "show", "'; DROP TABLE x; --", "--sqlite", path]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /RECORD_NOT_FOUND/);
  const url = `postgres://${process.env.PGUSER ?? "postgres"}@${process.env.PGHOST ?? "127.0.0.1"}:${process.env.PGPORT ?? 5432}/${process.env.PGDATABASE ?? "test"}`;
  const hostileSchema = await stepwise(["runs", "list", "--postgres", url, "--schema", 'x"; DROP SCHEMA public; --']);
  assert.equal(hostileSchema.code, 2, hostileSchema.stderr);
  assert.match(hostileSchema.stderr, /schema/);
  // Everything is still there.
  const reopened = sqlite(path);
  try {
    for (const runId of runIds) assert.equal((await reopened.recordStore.lookup(runId)).workflowName, workflowName);
  } finally {
    await reopened.close();
  }
});

test("a workflow with a hand-edited run among its recent ones still starts after a restart and completes its other runs", async () => {
  const { pool, schema } = await postgresDb();
  await mysqlReady();
  const path = join(dir, "restart.db");
  const open = {
    sqlite: () => sqlite(path),
    postgres: () => postgres({ pool, schema }),
    mysql: () => mysql({ pool: mysqlPool, prefix: mysqlPrefix }),
    redis: () => redis({ client, prefix: redisPrefix }),
  };
  const edit = { sqlite: "run_state = 42", postgres: "run_state = 42", mysql: "run_state = 99", redis: "s 99" };
  const tamperers = new Map((await backends()).map((b) => [b.name, b.tamper]));
  for (const name of ["sqlite", "postgres", "mysql", "redis"] as const) {
    const workflowName = `restarted-${name}-${randomBytes(3).toString("hex")}`;
    const build = (errors: unknown[] = []) => {
      const adapters = open[name]();
      const b = new Builder<Item, Status>(workflowName, Status);
      b.addCallback(Status.Created, async () => Status.Done, Status.Done);
      return { adapters, wf: b.build({ ...adapters, logger: errorsTo(errors) }) };
    };
    const first = build();
    let broken: string;
    try {
      await first.wf.run();
      broken = await first.wf.trigger("broken", { initialValue: { id: "broken", count: 0 } });
    } finally {
      await first.wf.stop();
      await first.adapters.close();
    }
    if (name === "sqlite") {
      const raw = new Database(path);
      raw.prepare(`UPDATE stepwise_records SET ${edit.sqlite} WHERE run_id = ?`).run(broken);
      raw.close();
    } else {
      await tamperers.get(name)?.(broken, edit[name]);
    }
    const errors: unknown[] = [];
    const second = build(errors);
    try {
      await second.wf.run();
      assert.ok(errors.some((err) => (err as { code?: unknown }).code === "MALFORMED_RECORD"), `${name}: the skipped check is logged`);
      const healthy = await second.wf.trigger("healthy", { initialValue: { id: "healthy", count: 0 } });
      await second.wf.callback("healthy", Status.Created, null);
      assert.equal((await second.wf.await("healthy", healthy, Status.Done)).status, Status.Done, name);
      await assert.rejects(second.wf.get(broken), { code: "MALFORMED_RECORD" }, name);
    } finally {
      await second.wf.stop();
      await second.adapters.close();
    }
  }
});

const malformedCodes = (errors: readonly unknown[]) => errors.map((err) => (err as { code?: unknown }).code).filter((code) => code === "MALFORMED_RECORD");

/**
 * Outbox rows no store wrote, per backend, for one workflow: `inject` writes them, `count` says how
 * many rows the workflow's outbox holds.
 */
interface JunkOutbox {
  name: string;
  store: RecordStore;
  junk: number;
  inject(workflowName: string): Promise<void>;
  count(workflowName: string): Promise<number>;
}

async function junkOutboxes(): Promise<JunkOutbox[]> {
  const { pool, schema } = await postgresDb();
  await mysqlReady();
  const db = new Database(join(dir, "outbox.db"));
  migrateSqlite(db);
  const sqliteJunk: [string, unknown, unknown][] = [
    ["not json", 1, Date.now()],
    ["null", 1, Date.now()],
    ['{"topic":5}', 1, Date.now()],
    ['{"run_id":"r"}', 1, Date.now()],
    ["{}", "x", Date.now()],
    ['{"topic":"t"}', 1, "yesterday"],
    ['{"topic":"t"}', 1, 2 ** 53 - 1],
  ];
  const pgJunk = ["null", "[1]", '{"topic":5}', "{}", '{"topic":"t","x":1}'];
  const mysqlJunk = ["not json", "null", '{"topic":5}', "{}"];
  const redisJunk: string[][] = [
    ["headers", "not json", "type", "1", "foreign_id", "f", "created_at", "1"],
    ["headers", "{}", "type", "1", "foreign_id", "f", "created_at", "1"],
    ["headers", '{"topic":"t"}', "type", "x", "foreign_id", "f", "created_at", "1"],
    ["headers", '{"topic":"t"}', "type", "1", "foreign_id", "f", "created_at", "9007199254740991"],
    ["unrelated", "field"],
  ];
  return [
    {
      name: "sqlite",
      store: new SqliteRecordStore({ db }),
      junk: sqliteJunk.length,
      inject: async (w) => {
        const insert = db.prepare("INSERT INTO stepwise_outbox (workflow_name, foreign_id, type, headers, created_at) VALUES (?, 'junk', ?, ?, ?)");
        for (const [headers, type, createdAt] of sqliteJunk) insert.run(w, type, headers, createdAt);
      },
      count: async (w) => (db.prepare("SELECT count(*) AS n FROM stepwise_outbox WHERE workflow_name = ?").get(w) as { n: number }).n,
    },
    {
      name: "postgres",
      store: new PostgresRecordStore({ pool, schema }),
      junk: pgJunk.length + 1,
      inject: async (w) => {
        for (const headers of pgJunk) await pool.query(`INSERT INTO "${schema}".stepwise_outbox (workflow_name, foreign_id, type, headers) VALUES ($1, 'junk', 1, $2::jsonb)`, [w, headers]);
        await pool.query(`INSERT INTO "${schema}".stepwise_outbox (workflow_name, foreign_id, type, headers, created_at) VALUES ($1, 'junk', 1, '{"topic":"t"}', 'infinity')`, [w]);
      },
      count: async (w) => Number((await pool.query<{ n: string }>(`SELECT count(*) AS n FROM "${schema}".stepwise_outbox WHERE workflow_name = $1`, [w])).rows[0]?.n),
    },
    {
      name: "mysql",
      store: new MysqlRecordStore({ pool: mysqlPool, prefix: mysqlPrefix }),
      junk: mysqlJunk.length + 1,
      inject: async (w) => {
        for (const headers of mysqlJunk) {
          await mysqlPool.query(`INSERT INTO \`${mysqlPrefix}outbox\` (workflow_name, foreign_id, type, headers, created_at) VALUES (?, 'junk', 1, ?, NOW(3))`, [w, headers]);
        }
        await mysqlPool.query(`INSERT INTO \`${mysqlPrefix}outbox\` (workflow_name, foreign_id, type, headers, created_at) VALUES (?, 'junk', 1, '{"topic":"t"}', '0000-00-00 00:00:00')`, [w]);
      },
      count: async (w) => {
        const [rows] = await mysqlPool.query<({ n: number } & RowDataPacket)[]>(`SELECT count(*) AS n FROM \`${mysqlPrefix}outbox\` WHERE workflow_name = ?`, [w]);
        return Number(rows[0]?.n);
      },
    },
    {
      name: "redis",
      store: new RedisRecordStore({ client, prefix: redisPrefix }),
      junk: redisJunk.length,
      // Workflow names of plain lower-case letters are their own encoding in keys.
      inject: async (w) => {
        for (const fields of redisJunk) await client.xadd(`${redisPrefix}outbox:${w}`, "*", ...fields);
      },
      count: async (w) => client.xlen(`${redisPrefix}outbox:${w}`),
    },
  ];
}

/** Runs `check` on every backend, then fails naming each backend that failed, not only the first. */
async function eachBackend<B extends { name: string }>(backends: readonly B[], check: (backend: B) => Promise<void>): Promise<void> {
  const failed: string[] = [];
  for (const backend of backends) await check(backend).catch((err: unknown) => failed.push(`${backend.name}: ${String(err)}`));
  assert.deepEqual(failed, []);
}

/** Triggers two runs of a running workflow and waits for both to be Done. */
async function runsComplete(wf: { trigger: Workflow<Item, Status>["trigger"]; await: Workflow<Item, Status>["await"] }, name: string): Promise<void> {
  for (const foreignId of ["a", "b"]) {
    const runId = await wf.trigger(foreignId, { initialValue: { id: foreignId, count: 0 } });
    assert.equal((await wf.await(foreignId, runId, Status.Done, { timeoutMs: 10_000 })).status, Status.Done, name);
  }
}

/** A one-step workflow whose events go through `recordStore`'s outbox, polled often; its logged errors land in `errors`. */
function outboxWorkflow(workflowName: string, recordStore: RecordStore, errors: unknown[]) {
  const b = new Builder<Item, Status>(workflowName, Status);
  b.addStep(Status.Created, async () => Status.Done, Status.Done);
  return b.build({
    recordStore,
    eventStreamer: new MemoryEventStreamer(),
    roleScheduler: new MemoryRoleScheduler(),
    logger: errorsTo(errors),
    defaultOptions: { pollingFrequency: 20 },
  });
}

test("a malformed outbox row is logged once and set aside on every SQL and Redis store, and the events behind it are sent", async () => {
  await eachBackend(await junkOutboxes(), async ({ name, store, junk, inject, count }) => {
    const workflowName = `outboxjunk${name}${randomBytes(3).toString("hex")}`;
    await inject(workflowName);
    const errors: unknown[] = [];
    const wf = outboxWorkflow(workflowName, store, errors);
    try {
      await wf.run();
      await runsComplete(wf, name);
      // The sent events are deleted; the junk stays for an operator to look at, and is not lost.
      await until(`${name}: the sent events deleted`, async () => (await count(workflowName)) === junk, 10_000);
      assert.equal(malformedCodes(errors).length, junk, `each junk row logged once: ${errors.map(String).join("\n")}`);
    } finally {
      await wf.stop();
    }
  });
});

test("sqlite: more unreadable outbox rows than a batch hold no event back, and a mended row is sent", async () => {
  const db = new Database(join(dir, "outbox-many.db"));
  migrateSqlite(db);
  const workflowName = "manyjunk";
  const junk = 1001;
  const insert = db.prepare("INSERT INTO stepwise_outbox (workflow_name, foreign_id, type, headers, created_at) VALUES (?, 'junk', 1, 'null', 0)");
  db.transaction(() => {
    for (let i = 0; i < junk; i++) insert.run(workflowName);
  })();
  const count = () => (db.prepare("SELECT count(*) AS n FROM stepwise_outbox WHERE workflow_name = ?").get(workflowName) as { n: number }).n;
  const errors: unknown[] = [];
  const wf = outboxWorkflow(workflowName, new SqliteRecordStore({ db }), errors);
  try {
    await wf.run();
    const runId = await wf.trigger("a", { initialValue: { id: "a", count: 0 } });
    assert.equal((await wf.await("a", runId, Status.Done, { timeoutMs: 10_000 })).status, Status.Done);
    await until("the sent events deleted", () => count() === junk);
    assert.equal(malformedCodes(errors).length, junk);
    // Mended by hand, the row reads again and goes out like any other.
    db.prepare("UPDATE stepwise_outbox SET headers = ? WHERE id = (SELECT min(id) FROM stepwise_outbox WHERE workflow_name = ?)").run(
      JSON.stringify({ topic: topic(workflowName, Status.Created), run_id: "no-such-run", record_version: "1" }),
      workflowName,
    );
    await until("the mended row sent", () => count() === junk - 1);
  } finally {
    await wf.stop();
    db.close();
  }
});

/** One column edit per backend that leaves a run no store wrote, its times still readable. */
const unreadableStatus: { [backend: string]: string } = { sqlite: "status = 'abc'", postgres: "version = 0", mysql: "version = 0", redis: "t abc" };

test("a malformed run in a page: the store names it beside the readable runs, and wf.list, the web UI and the CLI show the others", async () => {
  for (const { name, store, tamper } of await backends()) {
    const workflowName = `listed-${name}-${randomBytes(3).toString("hex")}`;
    // Oldest first, a millisecond apart: the middle one is broken.
    const records = [0, 1, 2, 3].map((i) => makeRecord({ workflowName, createdAt: new Date(Date.UTC(2026, 0, 1, 0, 0, 0, i)) }));
    for (const record of records) await store.store(record);
    const [oldest, broken, middle, newest] = records as [Record, Record, Record, Record];
    await tamper(broken.runId, unreadableStatus[name] as string);

    const refused = await store.list({ workflowName, limit: 10 }).then(
      () => assert.fail(`${name}: the page was answered as if whole`),
      (err: unknown) => err as { code: string; readable: Record[]; malformed: { id: string; error: { code: string } }[] },
    );
    assert.equal(refused.code, "MALFORMED_ROWS", name);
    assert.deepEqual(refused.readable.map((r) => r.runId), [oldest.runId, middle.runId, newest.runId], `${name}: the readable runs, in order`);
    assert.deepEqual(refused.malformed.map((m) => [m.id, m.error.code]), [[broken.runId, "MALFORMED_RECORD"]], name);
    // A foreign-id filter takes another path on Redis.
    await assert.rejects(store.list({ workflowName, limit: 10, filter: { foreignId: [broken.foreignId, newest.foreignId] } }), { code: "MALFORMED_ROWS" }, name);

    const errors: unknown[] = [];
    const b = new Builder<Item, Status>(workflowName, Status);
    b.addStep(Status.Created, async () => Status.Done, Status.Done);
    const wf = b.build({ recordStore: store, eventStreamer: new MemoryEventStreamer(), roleScheduler: new MemoryRoleScheduler(), logger: errorsTo(errors) });
    // Page by page, a run at a time: every readable run once, none lost behind the broken one.
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await wf.list({ limit: 1, ...(cursor === undefined ? {} : { cursor }) });
      seen.push(...page.runs.map((r) => r.runId));
      cursor = page.nextCursor ?? undefined;
    } while (cursor !== undefined);
    assert.deepEqual(seen, [newest.runId, middle.runId, oldest.runId], `${name}: wf.list pages`);
    assert.ok(malformedCodes(errors).length > 0, `${name}: wf.list logs the broken run`);

    const ui = webui({ recordStore: store, names: [workflowName], token: false });
    const response = await ui.fetch(new Request(`http://stepwise.test/api/runs?workflow=${encodeURIComponent(workflowName)}`));
    const body = (await response.json()) as { runs: { runId: string }[]; malformed: { runId: string; error: { code: string } }[] };
    assert.equal(response.status, 200, `${name}: ${JSON.stringify(body)}`);
    assert.deepEqual(body.runs.map((r) => r.runId), [newest.runId, middle.runId, oldest.runId], name);
    assert.deepEqual(body.malformed.map((m) => [m.runId, m.error.code]), [[broken.runId, "MALFORMED_RECORD"]], name);
    const everyWorkflow = await webui({ recordStore: store, token: false }).fetch(new Request("http://stepwise.test/api/workflows"));
    assert.equal(everyWorkflow.status, 200, `${name}: the workflows of a store with a broken run`);
  }
});

test("the CLI lists the readable runs of a page and names the broken one on stderr", async () => {
  const path = join(dir, "cli-malformed.db");
  const db = new Database(path);
  migrateSqlite(db);
  const store = new SqliteRecordStore({ db });
  const workflowName = "cli-malformed";
  const [good, broken] = [makeRecord({ workflowName }), makeRecord({ workflowName })] as [Record, Record];
  await store.store(good);
  await store.store(broken);
  db.prepare("UPDATE stepwise_records SET status = 'abc' WHERE run_id = ?").run(broken.runId);
  db.close();
  const listed = await stepwise(["runs", "list", "--sqlite", path, "--workflow", workflowName, "--json"]);
  assert.equal(listed.code, 0, listed.stderr);
  const page = JSON.parse(listed.stdout) as { runs: { runId: string }[]; malformed: { runId: string }[] };
  assert.deepEqual(page.runs.map((r) => r.runId), [good.runId]);
  assert.deepEqual(page.malformed.map((m) => m.runId), [broken.runId]);
  assert.match(listed.stderr, new RegExp(`${broken.runId}.*MALFORMED_RECORD`));
});

/** Timeout rows no store wrote, expired (as the store's query sees them) for status Created of a workflow. */
interface JunkTimeouts {
  name: string;
  store: TimeoutStore;
  inject(workflowName: string): Promise<number>;
}

async function junkTimeouts(): Promise<JunkTimeouts[]> {
  const { pool, schema } = await postgresDb();
  await mysqlReady();
  const db = new Database(join(dir, "timeouts.db"));
  migrateSqlite(db);
  const now = Date.now();
  return [
    {
      name: "sqlite",
      store: new SqliteTimeoutStore({ db }),
      inject: async (w) => {
        const insert = db.prepare("INSERT INTO stepwise_timeouts (workflow_name, foreign_id, run_id, status, timeout_index, expire_at, created_at) VALUES (?, 'junk', ?, 1, 0, ?, ?)");
        const rows: [unknown, unknown, unknown][] = [
          ["r1", -(2 ** 53) + 1, now],
          ["r2", 0, "garbage"],
          ["r3", -1e300, now],
          ["r4", 0, 2 ** 53 - 1],
          [Buffer.from([0xff]), 0, now],
        ];
        for (const [runId, expireAt, createdAt] of rows) insert.run(w, runId, expireAt, createdAt);
        return rows.length;
      },
    },
    {
      name: "postgres",
      store: new PostgresTimeoutStore({ pool, schema }),
      inject: async (w) => {
        const insert = `INSERT INTO "${schema}".stepwise_timeouts (workflow_name, foreign_id, run_id, status, expire_at, created_at) VALUES ($1, 'junk', 'r', 1, $2, $3)`;
        await pool.query(insert, [w, "-infinity", "2026-01-01"]);
        await pool.query(insert, [w, "2026-01-01", "infinity"]);
        return 2;
      },
    },
    {
      name: "mysql",
      store: new MysqlTimeoutStore({ pool: mysqlPool, prefix: mysqlPrefix }),
      inject: async (w) => {
        const insert = `INSERT INTO \`${mysqlPrefix}timeouts\` (workflow_name, foreign_id, run_id, status, expire_at, created_at) VALUES (?, 'junk', 'r', 1, ?, ?)`;
        await mysqlPool.query(insert, [w, "0000-00-00 00:00:00", "2026-01-01 00:00:00"]);
        await mysqlPool.query(insert, [w, "2026-01-01 00:00:00", "0000-00-00 00:00:00"]);
        return 2;
      },
    },
    {
      name: "redis",
      store: new RedisTimeoutStore({ client, prefix: redisPrefix }),
      // Workflow names of plain lower-case letters are their own encoding in keys.
      inject: async (w) => {
        // Listed in the workflow's index and its status's, as the store lists its own.
        const indexes = [`${redisPrefix}index:timeouts:${w}`, `${redisPrefix}index:timeouts:${w}:1`];
        const hashes: [string, string, string][] = [
          ["9000000000000001", "abc", "1"],
          ["9000000000000002", "9007199254740991", "1"],
          ["9000000000000003", "1", "soon"],
        ];
        for (const [id, e, c] of hashes) {
          await client.hset(`${redisPrefix}timeout:${id}`, "w", w, "f", "junk", "r", "r", "t", "1", "i", "0", "e", e, "c", c);
          for (const index of indexes) await client.zadd(index, 0, id);
        }
        // An index entry whose timeout is gone.
        for (const index of indexes) await client.zadd(index, 0, "9000000000000004");
        return hashes.length + 1;
      },
    },
  ];
}

test("a malformed timeout row is logged once and passed over on every SQL and Redis store, and the other timeouts fire", async () => {
  await eachBackend(await junkTimeouts(), async ({ name, store, inject }) => {
    const workflowName = `timeoutjunk${name}${randomBytes(3).toString("hex")}`;
    const junk = await inject(workflowName);
    const errors: unknown[] = [];
    const b = new Builder<Item, Status>(workflowName, Status);
    b.addTimeout(Status.Created, durationTimer(0), async () => Status.Done, Status.Done);
    const wf = b.build({ ...memory(), timeoutStore: store, logger: errorsTo(errors), defaultOptions: { pollingFrequency: 20 } });
    try {
      const listed = await store.listValid(workflowName, Status.Created, new Date()).then(
        (timeouts) => assert.fail(`${name}: junk read as ${JSON.stringify(timeouts)}`),
        (err: unknown) => err as { code: string; readable: unknown[]; malformed: unknown[] },
      );
      assert.deepEqual([listed.code, listed.readable.length, listed.malformed.length], ["MALFORMED_ROWS", 0, junk], name);
      await wf.run();
      await runsComplete(wf, name);
      assert.equal(malformedCodes(errors).length, junk, `each junk row logged once: ${errors.map(String).join("\n")}`);
      // Left where they were, for an operator to look at.
      await assert.rejects(store.list(workflowName), (err: { code?: string; malformed?: unknown[] }) => err.code === "MALFORMED_ROWS" && err.malformed?.length === junk, name);
    } finally {
      await wf.stop();
    }
  });
});

test("a timer that returns an Invalid Date is a ValueNotStorableError, and no timeout is stored", async () => {
  const errors: unknown[] = [];
  const adapters = memory();
  const b = new Builder<Item, Status>("invalid-timer", Status);
  b.addTimeout(Status.Created, () => new Date(Number.NaN), async () => Status.Done, Status.Done);
  const wf = b.build({ ...adapters, logger: errorsTo(errors) });
  try {
    await wf.run();
    await wf.trigger("a", { initialValue: { id: "a", count: 0 } });
    await until("the refusal logged", () => errors.some((err) => (err as { code?: unknown }).code === "VALUE_NOT_STORABLE"));
    assert.deepEqual(await adapters.timeoutStore.list("invalid-timer"), []);
  } finally {
    await wf.stop();
  }
});

test("sqlite: a prefix that differs only in case from one in the file is refused, since SQLite's names ignore case", async () => {
  const path = join(dir, "case.db");
  await sqlite(path, { prefix: "Foo_" }).close();
  const sameTables = { code: "INVALID_OPTION", message: /"Foo_"/ };
  assert.throws(() => sqlite(path, { prefix: "foo_" }), sameTables);
  const db = new Database(path);
  try {
    assert.throws(() => migrateSqlite(db, { prefix: "FOO_" }), sameTables);
    assert.deepEqual(db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'foo%' AND name NOT GLOB 'Foo_*'").all(), [], "nothing made under the refused spelling");
    // Its own spelling, and another prefix, still open.
    migrateSqlite(db, { prefix: "Foo_" });
    migrateSqlite(db, { prefix: "bar_" });
  } finally {
    db.close();
  }
});

test("mysql: tables made under another spelling of the prefix (shared where the server ignores the case of names) are refused by migrate", async () => {
  const prefix = `Case_${randomBytes(3).toString("hex")}_`;
  const records = `${prefix}records`;
  const comment = async () => {
    const [rows] = await mysqlPool.query<({ c: string } & RowDataPacket)[]>(
      "SELECT table_comment AS c FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = ?",
      [records],
    );
    return rows[0]?.c;
  };
  try {
    await migrateMysql(mysqlPool, { prefix });
    assert.match(String(await comment()), new RegExp(`"${prefix}"`), "migrate marks the tables with the prefix as spelt");
    // What a server with lower_case_table_names = 1 shows when "Case_…" migrates after "CASE_…".
    await mysqlPool.query(`ALTER TABLE \`${records}\` COMMENT = 'stepwise tables, prefix "${prefix.toUpperCase()}"'`);
    await assert.rejects(migrateMysql(mysqlPool, { prefix }), { code: "INVALID_OPTION", message: new RegExp(`"${prefix.toUpperCase()}"`) });
    // Tables of an earlier stepwise carry no mark: they are taken as the prefix's own, and marked.
    await mysqlPool.query(`ALTER TABLE \`${records}\` COMMENT = ''`);
    await migrateMysql(mysqlPool, { prefix });
    assert.match(String(await comment()), new RegExp(`"${prefix}"`));
  } finally {
    const [tables] = await mysqlPool.query<({ t: string } & RowDataPacket)[]>(
      "SELECT table_name AS t FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name LIKE ?",
      [`${prefix}%`],
    );
    for (const { t } of tables) await mysqlPool.query(`DROP TABLE IF EXISTS \`${t}\``);
  }
});

test("postgres: migrate mends the indexes an upper-case prefix got before index names were quoted", async () => {
  const { pool } = await postgresDb();
  const schema = `legacy_${randomBytes(3).toString("hex")}`;
  const q = (name: string) => `"${schema}"."${name}"`;
  const indexes = async (table: string) =>
    (await pool.query<{ indexname: string }>("SELECT indexname FROM pg_indexes WHERE schemaname = $1 AND tablename = $2 ORDER BY indexname", [schema, table])).rows.map((r) => r.indexname);
  try {
    // Made as an earlier stepwise made them: index names unquoted, so folded to lower case.
    await migratePostgres(pool, { schema, prefix: "Ab_" });
    for (const name of await indexes("Ab_records")) if (name !== "Ab_records_pkey") await pool.query(`ALTER INDEX ${q(name)} RENAME TO "${name.toLowerCase()}"`);
    // A second unfinished run is a WorkflowInProgressError even before migrate mends the names.
    const legacy = new PostgresRecordStore({ pool, schema, prefix: "Ab_" });
    await legacy.store(makeRecord({ workflowName: "w", foreignId: "legacy" }));
    await assert.rejects(legacy.store(makeRecord({ workflowName: "w", foreignId: "legacy" })), { code: "WORKFLOW_IN_PROGRESS" });
    // Then prefix "ab_" in the same schema: its index names were taken, so it got none.
    await migratePostgres(pool, { schema, prefix: "ab_" });

    await migratePostgres(pool, { schema, prefix: "Ab_" });
    await migratePostgres(pool, { schema, prefix: "ab_" });
    const want = (p: string) => [`${p}records_created`, `${p}records_foreign_id`, `${p}records_run_state`, `${p}records_status`, `${p}records_unfinished`].sort();
    assert.deepEqual((await indexes("Ab_records")).filter((n) => !n.endsWith("_pkey")), want("Ab_"), "Ab_: its own indexes, no duplicates");
    assert.deepEqual((await indexes("ab_records")).filter((n) => !n.endsWith("_pkey")), want("ab_"), "ab_: its own indexes");
    for (const prefix of ["Ab_", "ab_"]) {
      const store = new PostgresRecordStore({ pool, schema, prefix });
      await store.store(makeRecord({ workflowName: "w", foreignId: "f" }));
      await assert.rejects(store.store(makeRecord({ workflowName: "w", foreignId: "f" })), { code: "WORKFLOW_IN_PROGRESS" }, prefix);
    }
  } finally {
    await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  }
});

test("any value in any column of a stored outbox event or timeout reads back as one, or as a malformed row beside the others", async () => {
  const db = new Database(join(dir, "fuzz-rows.db"));
  migrateSqlite(db);
  const stores = {
    sqlite: { records: new SqliteRecordStore({ db }), timeouts: new SqliteTimeoutStore({ db }) },
    redis: { records: new RedisRecordStore({ client, prefix: redisPrefix }), timeouts: new RedisTimeoutStore({ client, prefix: redisPrefix }) },
  };
  const validTime = (time: Date) => assert.ok(time instanceof Date && !Number.isNaN(time.getTime()), `time ${String(time)}`);
  const eventTyped = (e: OutboxEvent) => {
    for (const text of [e.id, e.workflowName, e.foreignId, ...Object.values(e.headers)]) assert.equal(typeof text, "string");
    assert.ok(Number.isSafeInteger(e.type) && e.headers.topic, `type ${e.type}, topic ${e.headers.topic}`);
    validTime(e.createdAt);
  };
  const timeoutTyped = (t: TimeoutRecord) => {
    for (const text of [t.id, t.workflowName, t.foreignId, t.runId]) assert.equal(typeof text, "string");
    assert.ok(Number.isSafeInteger(t.status) && Number.isSafeInteger(t.index), `status ${t.status}, index ${t.index}`);
    validTime(t.expireAt);
    validTime(t.createdAt);
  };
  /** One run's outbox event and one timeout, fresh for each case; `edit` then spoils one of them. */
  const eachCase = async (name: keyof typeof stores, edit: (workflowName: string) => Promise<unknown>) => {
    const { records, timeouts } = stores[name];
    const workflowName = `fuzz${randomBytes(4).toString("hex")}`;
    await records.store(makeRecord({ workflowName }));
    await timeouts.create({ workflowName, foreignId: "f", runId: "r", status: 1, expireAt: new Date(0) });
    try {
      await edit(workflowName);
    } catch {
      return; // a constraint (NOT NULL) refused the edit: nothing to read
    }
    await listedOrMalformed(records.listOutboxEvents(workflowName, 10), eventTyped);
    await listedOrMalformed(timeouts.listValid(workflowName, 1, new Date()), timeoutTyped);
    await listedOrMalformed(timeouts.list(workflowName), timeoutTyped);
  };
  try {
    const sqliteColumns = {
      outbox: ["workflow_name", "foreign_id", "type", "headers", "created_at"],
      timeouts: ["workflow_name", "foreign_id", "run_id", "status", "timeout_index", "expire_at", "created_at"],
    };
    const sqliteEdit = fc.oneof(
      fc.tuple(fc.constant("outbox" as const), fc.constantFrom(...sqliteColumns.outbox)),
      fc.tuple(fc.constant("timeouts" as const), fc.constantFrom(...sqliteColumns.timeouts)),
    );
    await fc.assert(
      fc.asyncProperty(sqliteEdit, sqliteValue, ([table, column], value) =>
        eachCase("sqlite", async (w) => db.prepare(`UPDATE stepwise_${table} SET ${column} = ? WHERE workflow_name = ?`).run(value, w)),
      ),
      propertyParameters(150),
    );
    const redisEdit = fc.oneof(
      fc.tuple(fc.constant("outbox" as const), fc.constantFrom("foreign_id", "type", "headers", "created_at")),
      fc.tuple(fc.constant("timeout" as const), fc.constantFrom("w", "f", "r", "t", "i", "e", "c")),
    );
    await fc.assert(
      fc.asyncProperty(redisEdit, redisValue, ([kind, field], value) =>
        eachCase("redis", async (w) => {
          if (kind === "outbox") {
            // An entry cannot be edited: a second one is written beside the store's, with the field changed.
            const fields = new Map([["foreign_id", "f"], ["type", "1"], ["headers", JSON.stringify({ topic: "t" })], ["created_at", "0"]]);
            if (value === "-") fields.delete(field);
            else fields.set(field, value);
            return client.xadd(`${redisPrefix}outbox:${w}`, "*", ...[...fields].flat());
          }
          const [id] = await client.zrange(`${redisPrefix}index:timeouts:${w}`, "0", "0");
          const key = `${redisPrefix}timeout:${id}`;
          return value === "-" ? client.hdel(key, field) : client.hset(key, field, value);
        }),
      ),
      propertyParameters(100),
    );
  } finally {
    db.close();
  }
});
