import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { once } from "node:events";
import { performance } from "node:perf_hooks";
import { createInterface } from "node:readline";
import { after, test } from "node:test";
import { Etcd3 } from "etcd3";
import { RunState } from "stepwise";
import { freshSchema } from "./support/postgres.js";
import { until } from "./support/until.js";
import { Status } from "./support/workflows.js";

const workers: ChildProcess[] = [];
after(() => {
  for (const worker of workers) worker.kill("SIGKILL");
});

/** Seconds of the workers' etcd lease; etcd rounds it up to its minimum (2 s with default settings). */
const ttl = 1;

function startWorker(schema: string, triggers: number, prefix: string): { child: ChildProcess; pid: string; said(line: string): Promise<void> } {
  const child = spawn(
    process.execPath,
    [
      "--conditions=source", "--import", "tsx", new URL("./support/etcd-worker.ts", import.meta.url).pathname,
      schema, String(triggers), prefix, String(ttl),
    ],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  workers.push(child);
  const lines: string[] = [];
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on("line", (line) => lines.push(line));
  return {
    child,
    pid: String(child.pid),
    said: (line) => until(`a worker to say "${line}"`, () => lines.includes(line), 60_000),
  };
}

/** The process id in a role key's value (`host:pid`, as the scheduler writes it). */
const holderPid = (value: string) => value.slice(value.lastIndexOf(":") + 1);

test("three workers with roles on etcd finish 2,000 runs though one is SIGKILLed halfway; its roles move to survivors", { timeout: 120_000 }, async (t) => {
  const db = await freshSchema();
  const prefix = `stepwise-mp/${randomUUID()}/`;
  const etcd = new Etcd3({ hosts: process.env.ETCD_HOSTS ?? "127.0.0.1:2379" });
  try {
    const runs = 2000;
    const started = performance.now();
    const [first, second, third] = [startWorker(db.schema, runs, prefix), startWorker(db.schema, 0, prefix), startWorker(db.schema, 0, prefix)] as const;
    await Promise.all([first, second, third].map((w) => w.said("ready")));
    const completed = async () =>
      Number(
        (await db.pool.query(`SELECT count(*) FROM "${db.schema}".stepwise_records WHERE run_state = $1`, [RunState.Completed])).rows[0].count,
      );
    // Every run is triggered before the kill, so the victim may be any worker.
    await first.said("triggered");
    await until("half of the runs to complete", async () => (await completed()) >= runs / 2, 60_000);

    // Roles go to whoever asks first, not evenly: the victim is the worker holding the most now.
    const snapshot = await etcd.getAll().prefix(prefix).exec();
    const held = Object.fromEntries(snapshot.kvs.map((kv) => [kv.key.toString(), kv.value.toString()]));
    const rolesOf = (pid: string) => Object.keys(held).filter((key) => holderPid(held[key] as string) === pid);
    const victim = [first, second, third].reduce((most, w) => (rolesOf(w.pid).length > rolesOf(most.pid).length ? w : most));
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
    victim.child.kill("SIGKILL");
    await once(victim.child, "exit");
    await until("a survivor to hold every role of the killed worker", () => takenOverMs !== undefined, 30_000);
    await watcher.cancel();
    t.diagnostic(`lease ttl ${ttl} s requested; the killed worker held ${rolesOf(victim.pid).length} of ${Object.keys(held).length} roles; survivors held them all ${Math.round(takenOverMs ?? 0)} ms after SIGKILL`);

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

    const stopping = [first, second, third].filter((w) => w !== victim);
    for (const worker of stopping) worker.child.kill("SIGTERM");
    await Promise.all(stopping.map((w) => once(w.child, "exit")));
    assert.deepEqual(await etcd.getAll().prefix(prefix).keys(), [], "workers that stop release every role");
  } finally {
    await etcd.delete().prefix(prefix);
    etcd.close();
    await db.drop();
  }
});
