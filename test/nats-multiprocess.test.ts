import assert from "node:assert/strict";
import { test } from "node:test";
import { jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { RunState } from "stepwise";
import type { RoleHolder } from "stepwise/nats";
import { connectNats, eventually, uniquePrefix } from "./support/nats.js";
import { freshSchema } from "./support/postgres.js";
import { Workers } from "./support/workers.js";
import { Status } from "./support/workflows.js";

const ttlMs = 1_000;

test("three workers on Postgres records and NATS events and roles finish 2,000 runs though one is SIGKILLed halfway", { timeout: 180_000 }, async (t) => {
  const db = await freshSchema();
  const { prefix, bucket, removeStreams } = uniquePrefix();
  const connection = await connectNats();
  const workers = new Workers();
  try {
    const runs = 2000;
    const started = Date.now();
    // The workers that only consume start first, so the roles go to them and not to the one busy triggering.
    const args = ["--schema", db.schema, "--prefix", prefix, "--ttl-ms", String(ttlMs)];
    const consumers = [workers.start("nats", args), workers.start("nats", args)];
    await Promise.all(consumers.map((w) => w.said("ready")));
    const trigger = workers.start("nats", [...args, "--trigger", String(runs)]);
    const all = [...consumers, trigger];
    const sql = (text: string) => db.pool.query(text).then((r) => Number(r.rows[0].count));
    const completed = () => sql(`SELECT count(*) FROM "${db.schema}".stepwise_records WHERE run_state = ${RunState.Completed}`);
    await eventually("half of the runs to complete", async () => (await completed()) >= runs / 2, 90_000);
    const halfMs = Date.now() - started;
    await trigger.said("triggered");

    // Kill the worker that holds the most roles, and time how long until survivors hold each of them.
    const kv = await new Kvm(connection).open(bucket);
    const holders = new Map<string, number>();
    for await (const key of await kv.keys()) {
      const entry = await kv.get(key);
      if (entry?.operation === "PUT") holders.set(key, (JSON.parse(entry.string()) as RoleHolder).pid);
    }
    const held = (w: (typeof all)[number]) => [...holders].filter(([, pid]) => pid === w.pid).map(([key]) => key);
    const victim = all.reduce((most, w) => (held(w).length > held(most).length ? w : most));
    const roles = held(victim);
    const killedAt = Date.now();
    await victim.kill();
    await eventually(
      "a survivor to hold every role of the killed worker",
      async () => {
        for (const key of roles) {
          const entry = await kv.get(key);
          if (entry?.operation !== "PUT" || (JSON.parse(entry.string()) as RoleHolder).pid === victim.pid) return false;
        }
        return true;
      },
      20_000,
      5,
    );
    const takeoverMs = Date.now() - killedAt;

    await eventually("every run to complete", async () => (await completed()) === runs, 90_000);
    const finishedMs = Date.now() - started;
    await eventually("the outbox to drain", async () => (await sql(`SELECT count(*) FROM "${db.schema}".stepwise_outbox`)) === 0, 10_000);

    const { rows } = await db.pool.query(`SELECT status, version FROM "${db.schema}".stepwise_records`);
    assert.equal(rows.length, runs, "no run lost, none duplicated");
    for (const row of rows) {
      assert.equal(row.status, Status.Done);
      // One write at trigger and one per step: a step stored twice would show as version 5.
      assert.equal(row.version, 4);
    }
    // One event per stored version reached the stream: the server dropped any outbox event sent twice.
    const jsm = await jetstreamManager(connection);
    const info = await jsm.streams.info(`${prefix}_multi`, { subjects_filter: ">" });
    const perSubject = info.state.subjects ?? {};
    for (const part of ["1", "2", "3", "run-state-change"]) assert.equal(perSubject[`${prefix}.multi.${part}`], runs, `events on ${part}`);

    t.diagnostic(`the killed worker held ${roles.length} of ${holders.size} roles; survivors held all of them ${takeoverMs} ms after SIGKILL (TTL ${ttlMs} ms)`);
    t.diagnostic(`2,000 runs on three (then two) workers took ${finishedMs} ms (half of them done after ${halfMs} ms)`);
    await Promise.all(all.filter((w) => w !== victim).map((w) => w.stop()));
  } finally {
    await workers.killAll();
    await removeStreams(connection);
    await connection.close();
    await db.drop();
  }
});
