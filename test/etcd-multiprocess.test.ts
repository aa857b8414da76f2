import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { performance } from "node:perf_hooks";
import { test } from "node:test";
import { Etcd3 } from "etcd3";
import { RunState } from "stepwise";
import { freshSchema } from "./support/postgres.js";
import { until } from "./support/until.js";
import { Workers, type Worker } from "./support/workers.js";
import { Status } from "./support/workflows.js";

/** The workers' etcd lease, in ms; etcd rounds it up to its minimum (2 s with default settings). */
const ttlMs = 1000;

/** The process id in a role key's value (`host:pid`, as the scheduler writes it). */
const holderPid = (value: string) => Number(value.slice(value.lastIndexOf(":") + 1));

test("three workers with roles on etcd finish 2,000 runs though one is SIGKILLed halfway; its roles move to survivors", { timeout: 120_000 }, async (t) => {
  const db = await freshSchema();
  const prefix = `stepwise-mp/${randomUUID()}/`;
  const etcd = new Etcd3({ hosts: process.env.ETCD_HOSTS ?? "127.0.0.1:2379" });
  const workers = new Workers();
  try {
    const runs = 2000;
    const started = performance.now();
    const args = ["--schema", db.schema, "--prefix", prefix, "--ttl-ms", String(ttlMs), "--name", "multi-etcd"];
    const [first, second, third] = [
      workers.start("etcd", [...args, "--trigger", String(runs)]),
      workers.start("etcd", args),
      workers.start("etcd", args),
    ] as const;
    await Promise.all([first, second, third].map((w) => w.said("ready")));
    const completed = async () =>
      Number(
        (await db.pool.query(`SELECT count(*) FROM "${db.schema}".stepwise_records WHERE run_state = $1`, [RunState.Completed])).rows[0].count,
      );
    // Every run is triggered before the kill, so the victim may be any worker.
    await first.said("triggered");
    await until("half of the runs to complete", async () => (await completed()) >= runs / 2, 60_000);

    // The victim is the worker holding the most roles now (the roles spread, give or take one).
    const snapshot = await etcd.getAll().prefix(prefix).exec();
    const roleKeys = snapshot.kvs.filter((kv) => !kv.key.toString().startsWith(`${prefix}~members/`));
    const held = Object.fromEntries(roleKeys.map((kv) => [kv.key.toString(), kv.value.toString()]));
    const rolesOf = (pid: number) => Object.keys(held).filter((key) => holderPid(held[key] as string) === pid);
    const victim: Worker = [first, second, third].reduce((most, w) => (rolesOf(w.pid).length > rolesOf(most.pid).length ? w : most));
    const survivors = new Set([first.pid, second.pid, third.pid].filter((pid) => pid !== victim.pid));
    const orphaned = new Set(rolesOf(victim.pid));
    assert.ok(orphaned.size > 0, `the victim holds roles (${Object.keys(held).length} held in all)`);

    // Watch every put under the prefix since the snapshot, and note when the last orphaned role is taken.
    let killedAt = performance.now();
    let takenOverMs: number | undefined;
    const watcher = await etcd.watch().prefix(prefix).startRevision(String(BigInt(snapshot.header.revision) + 1n)).create();
    watcher.on("error", () => undefined);
    watcher.on("put", (kv) => {
      const key = kv.key.toString();
      if (orphaned.has(key) && survivors.has(holderPid(kv.value.toString()))) orphaned.delete(key);
      if (orphaned.size === 0) takenOverMs ??= performance.now() - killedAt;
    });
    killedAt = performance.now();
    await victim.kill();
    await until("a survivor to hold every role of the killed worker", () => takenOverMs !== undefined, 30_000);
    await watcher.cancel();
    t.diagnostic(`lease ttl ${ttlMs} ms requested; the killed worker held ${rolesOf(victim.pid).length} of ${Object.keys(held).length} roles; survivors held them all ${Math.round(takenOverMs ?? 0)} ms after SIGKILL`);

    await until("every run to complete", async () => (await completed()) === runs, 90_000);
    t.diagnostic(`2,000 runs completed ${Math.round(performance.now() - started)} ms after the workers started`);

    const { rows } = await db.pool.query(
      `SELECT r.status, r.version, (SELECT count(*) FROM "${db.schema}".stepwise_events e WHERE e.headers->>'run_id' = r.run_id)::int AS events
       FROM "${db.schema}".stepwise_records r`,
    );
    assert.equal(rows.length, runs, "no run lost, none duplicated");
    for (const row of rows) {
      assert.equal(row.status, Status.Done);
      // One write at trigger and one per step: a step stored twice would show as version 5.
      assert.equal(row.version, 4);
      assert.equal(row.events, 4, "one event per stored version");
    }

    await Promise.all([first, second, third].filter((w) => w !== victim).map((w) => w.stop()));
    assert.deepEqual(await etcd.getAll().prefix(prefix).keys(), [], "workers that stop release every role");
  } finally {
    await workers.killAll();
    await etcd.delete().prefix(prefix);
    etcd.close();
    await db.drop();
  }
});
