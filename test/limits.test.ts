import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";
import { createPool, type RowDataPacket } from "mysql2/promise";
import pg from "pg";
import { BuildError, Builder, type ValueNotStorableError } from "stepwise";
import { memory } from "stepwise/memory";
import { migrate as migrateMysql, mysql } from "stepwise/mysql";
import { postgres } from "stepwise/postgres";
import { makeRecord } from "stepwise/adaptertest";
import { Status, type Item } from "./support/workflows.js";

test("a foreign id with a NUL or a lone surrogate is refused before anything is stored", async () => {
  const b = new Builder<Item, Status>("limits-text", Status);
  b.addCallback(Status.Created, async () => Status.Done, Status.Done);
  const adapters = memory();
  const wf = b.build(adapters);
  try {
    await wf.run();
    for (const [foreignId, why] of [["a\u0000b", /NUL/], ["a\ud800b", /lone UTF-16 surrogate/], ["a\udc00", /lone UTF-16 surrogate/]] as const) {
      await assert.rejects(wf.trigger(foreignId, { initialValue: { id: "x", count: 0 } }), (err: ValueNotStorableError) => {
        return err.code === "VALUE_NOT_STORABLE" && err.field === "foreign id" && why.test(err.message);
      });
    }
    assert.deepEqual(await adapters.recordStore.list({ workflowName: "limits-text", limit: 10 }), []);
    // A well-formed pair (an emoji) is fine.
    await wf.trigger("a\ud83d\ude00b", { initialValue: { id: "x", count: 0 } });
  } finally {
    await wf.stop();
  }
  assert.throws(() => new Builder<Item, Status>("bad\u0000name", Status), (err: BuildError) => err instanceof BuildError && /NUL/.test(err.message));
});

test("postgres refuses a schema or prefix whose table, index or channel names would pass 63 bytes", async () => {
  const pool = new pg.Pool({ host: "127.0.0.1", user: "postgres", database: "test" });
  try {
    // 45 characters already made the unique index name longer than PostgreSQL keeps, silently.
    assert.throws(() => postgres({ pool, prefix: "p".repeat(46) }), { code: "INVALID_OPTION", message: /records_unfinished.*longer than PostgreSQL's 63/ });
    assert.throws(() => postgres({ pool, schema: "s".repeat(50) }), { code: "INVALID_OPTION", message: /_stepwise_events.*longer than PostgreSQL's 63/ });
    const fits = postgres({ pool, prefix: "p".repeat(45) });
    await fits.close();
  } finally {
    await pool.end();
  }
});

test("mysql refuses a workflow name over 255 bytes or a foreign id over 512 with a typed error, not ER_DATA_TOO_LONG", async () => {
  const pool = createPool({ host: "127.0.0.1", user: "root", database: "test" });
  const prefix = `lim_${randomBytes(3).toString("hex")}_`;
  try {
    await migrateMysql(pool, { prefix });
    const { recordStore, close } = mysql({ pool, prefix });
    try {
      await assert.rejects(recordStore.store(makeRecord({ foreignId: "f".repeat(513) })), { code: "VALUE_NOT_STORABLE", message: /foreign id.*513 bytes.*at most 512/ });
      await assert.rejects(recordStore.store(makeRecord({ workflowName: "é".repeat(128) })), { code: "VALUE_NOT_STORABLE", message: /workflow name.*256 bytes.*at most 255/ });
      await recordStore.store(makeRecord({ foreignId: "f".repeat(512) }));
    } finally {
      await close();
    }
  } finally {
    const [tables] = await pool.query<({ t: string } & RowDataPacket)[]>(
      "SELECT table_name AS t FROM information_schema.tables WHERE table_schema = 'test' AND table_name LIKE ?",
      [`${prefix}%`],
    );
    for (const { t } of tables) await pool.query(`DROP TABLE IF EXISTS \`${t}\``);
    await pool.end();
  }
});
