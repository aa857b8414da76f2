import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { after, test } from "node:test";
import { RunState } from "stepwise";
import { freshSchema } from "./support/postgres.js";
import { deleteKeys, freshPrefix, redisClient } from "./support/redis.js";
import { until } from "./support/until.js";
import { Status } from "./support/workflows.js";

const workers: ChildProcess[] = [];
after(() => {
  for (const worker of workers) worker.kill("SIGKILL");
});

/** The lease length the workers use: a killed worker's roles should move within about this long. */
const ttlMs = 1000;

interface Worker {
  child: ChildProcess;
  pid: number;
  said(line: string): Promise<void>;
}

function startWorker(schema: string, prefix: string, triggers: number): Worker {
  const child = spawn(
    process.execPath,
    [
      "--conditions=source",
      "--import",
      "tsx",
      new URL("./support/redis-worker.ts", import.meta.url).pathname,
      schema,
      prefix,
      String(triggers),
      String(ttlMs),
    ],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  workers.push(child);
  const lines: string[] = [];
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on("line", (line) => lines.push(line));
  return {
    child,
    pid: child.pid ?? 0,
    said: (line) => until(`a worker to say "${line}"`, () => lines.includes(line), 60_000),
  };
}

test(
  "three worker processes on PostgreSQL records and Redis events and roles finish 2,000 runs though one is SIGKILLed halfway",
  { timeout: 120_000 },
  async (t) => {
    const db = await freshSchema();
    const client = redisClient();
    const prefix = freshPrefix("multi");
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
      // Two workers start first and share the roles; the third, started once they are up, triggers the runs.
      const steady = [startWorker(db.schema, prefix, 0), startWorker(db.schema, prefix, 0)] as const;
      await Promise.all(steady.map((w) => w.said(`ready ${w.pid}`)));
      const trigger = startWorker(db.schema, prefix, runs);
      await trigger.said(`ready ${trigger.pid}`);
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
      const survivors = new Set(workers.filter((w) => w !== victim.child).map((w) => w.pid));

      victim.child.kill("SIGKILL");
      const killedAtMs = Date.now();
      await once(victim.child, "exit");
      await until(
        "a survivor to hold every role of the killed worker",
        async () => {
          const now = await holders();
          return victimRoles.every((key) => survivors.has(now.get(key) ?? 0));
        },
        10 * ttlMs,
      );
      const takeoverMs = Date.now() - killedAtMs;
      t.diagnostic(`${victimRoles.length} roles of the killed worker held by survivors ${takeoverMs} ms after SIGKILL (lease TTL ${ttlMs} ms)`);
      assert.ok(takeoverMs < 3 * ttlMs, `roles moved within about a lease (${takeoverMs} ms)`);

      await until("every run to complete", async () => (await completed()) === runs, 60_000);
      t.diagnostic(`${runs} runs completed ${Date.now() - startedMs} ms after the triggering worker started`);
      const { rows } = await db.pool.query(`SELECT status, version FROM "${db.schema}".stepwise_records`);
      assert.equal(rows.length, runs, "no run lost, none duplicated");
      for (const row of rows) {
        assert.equal(row.status, Status.Done);
        // One write at trigger and one per step: a step stored twice would show as version 5.
        assert.equal(row.version, 4);
      }
      const rest = workers.filter((w) => w !== victim.child);
      for (const worker of rest) worker.kill("SIGTERM");
      await Promise.all(rest.map((w) => (w.exitCode === null ? once(w, "exit") : undefined)));
    } finally {
      await deleteKeys(client, prefix);
      await client.quit();
      await db.drop();
    }
  },
);
