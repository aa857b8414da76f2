import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import Database from "better-sqlite3";
import fc from "fast-check";
import { createPool, type RowDataPacket } from "mysql2/promise";
import { Builder, topic, type Adapters, type Record, type RecordStore } from "stepwise";
import { makeRecord } from "stepwise/adaptertest";
import { migrate as migrateMysql, mysql, MysqlRecordStore } from "stepwise/mysql";
import { postgres, PostgresRecordStore } from "stepwise/postgres";
import { redis, RedisRecordStore } from "stepwise/redis";
import { sqlite, SqliteRecordStore, migrate as migrateSqlite } from "stepwise/sqlite";
import { errorsTo } from "./support/logger.js";
import { freshSchema } from "./support/postgres.js";
import { deleteKeys, freshPrefix, redisClient } from "./support/redis.js";
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

/** A store of each SQL and Redis adapter, and how to run SQL (or a Redis command) on its data. */
interface Backend {
  name: string;
  store: RecordStore;
}
async function backends(): Promise<Backend[]> {
  const db = new Database(join(dir, `records-${randomBytes(3).toString("hex")}.db`));
  migrateSqlite(db);
  const { pool, schema } = await postgresDb();
  await mysqlReady();
  return [
    { name: "sqlite", store: new SqliteRecordStore({ db }) },
    { name: "postgres", store: new PostgresRecordStore({ pool, schema }) },
    { name: "mysql", store: new MysqlRecordStore({ pool: mysqlPool, prefix: mysqlPrefix }) },
    { name: "redis", store: new RedisRecordStore({ client, prefix: redisPrefix }) },
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
