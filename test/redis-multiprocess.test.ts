import assert from "node:assert/strict";
import { test } from "node:test";
import { RunState } from "stepwise";
import { freshSchema } from "./support/postgres.js";
import { deleteKeys, freshPrefix, redisClient } from "./support/redis.js";
import { until } from "./support/until.js";
import { Workers, type Worker } from "./support/workers.js";
import { Status } from "./support/workflows.js";

/** The lease length the workers use. */
const ttlMs = 1000;

test(
  "three worker processes on PostgreSQL records and Redis events and roles finish 2,000 runs though one is SIGKILLed halfway",
  { timeout: 120_000 },
  async (t) => {
    const db = await freshSchema();
    const client = redisClient();
    const prefix = freshPrefix("multi");
    const workers = new Workers();
    /** Which process holds each role: the pid in its lease token ("<host>/<pid>/<uuid>"). */
    const holders = async (): Promise<Map<string, number>> => {
      const keys: string[] = [];
      let cursor = "0";
      do {
        const [next, found] = await client.scan(cursor, "MATCH", `${prefix}role:*`, "COUNT", 1000);
        cursor = next;
        keys.push(...found);
      } while (cursor !== "0");
      const tokens = keys.length > 0 ? await client.mget(...keys) : [];
      return new Map(keys.map((key, i) => [key, Number(tokens[i]?.split("/")[1] ?? 0)]));
    };
    try {
      const runs = 2000;
      const args = ["--schema", db.schema, "--prefix", prefix, "--ttl-ms", String(ttlMs), "--parallel", "2"];
      // Two workers start first and share the roles; the third, started once they are up, triggers the runs.
      const steady = [workers.start("redis", args), workers.start("redis", args)] as const;
      await Promise.all(steady.map((w) => w.said("ready")));
      const trigger = workers.start("redis", [...args, "--trigger", String(runs)]);
      await trigger.said("ready");
      const startedMs = Date.now();
      const completed = async () =>
        Number(
          (await db.pool.query(`SELECT count(*) FROM "${db.schema}".stepwise_records WHERE run_state = $1`, [RunState.Completed])).rows[0].count,
        );
      await until("half of the runs to complete", async () => (await completed()) >= runs / 2, 60_000);

      // The victim is the steady worker holding more roles, so that there is something to take over.
      const before = await holders();
      const held = (w: Worker) => [...before].filter(([, pid]) => pid === w.pid).map(([key]) => key);
      const victim = held(steady[0]).length >= held(steady[1]).length ? steady[0] : steady[1];
      const victimRoles = held(victim);
      assert.ok(victimRoles.length > 0, "the victim holds roles");
      const survivors = [trigger, victim === steady[0] ? steady[1] : steady[0]];
      const survivorPids = new Set(survivors.map((w) => w.pid));

      const killedAtMs = Date.now();
      await victim.kill();
      await until(
        "a survivor to hold every role of the killed worker",
        async () => {
          const now = await holders();
          return victimRoles.every((key) => survivorPids.has(now.get(key) ?? 0));
        },
        30_000,
      );
      t.diagnostic(`${victimRoles.length} roles of the killed worker held by survivors ${Date.now() - killedAtMs} ms after SIGKILL (lease TTL ${ttlMs} ms)`);

      await until("every run to complete", async () => (await completed()) === runs, 60_000);
      t.diagnostic(`${runs} runs completed ${Date.now() - startedMs} ms after the triggering worker started`);
      const { rows } = await db.pool.query(`SELECT status, version FROM "${db.schema}".stepwise_records`);
      assert.equal(rows.length, runs, "no run lost, none duplicated");
      for (const row of rows) {
        assert.equal(row.status, Status.Done);
        // One write at trigger and one per step: a step stored twice would show as version 5.
        assert.equal(row.version, 4);
      }
      await Promise.all(survivors.map((w) => w.stop()));
    } finally {
      await workers.killAll();
      await deleteKeys(client, prefix);
      await client.quit();
      await db.drop();
    }
  },
);
