// Three worker processes share one workflow: records, timeouts and roles on PostgreSQL, events on
// Kafka (librdkafka's mock cluster started here, or the cluster named by KAFKA_BROKERS).
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, test } from "node:test";
import { RunState } from "stepwise";
import { testCluster, type TestCluster } from "./support/kafka.js";
import { freshSchema } from "./support/postgres.js";
import { until } from "./support/until.js";
import { Workers, type Worker } from "./support/workers.js";
import { Status } from "./support/workflows.js";

let cluster: TestCluster;
before(async () => {
  cluster = await testCluster();
});
after(async () => {
  await cluster?.stop();
});

/** What a worker holds now: the names of its lines starting with `taken` not followed by one starting with `ended`. */
function current(worker: Worker, taken: string, ended: string): Map<string, number> {
  const found = new Map<string, number>();
  for (const { text, atMs } of worker.lines) {
    if (text.startsWith(taken)) found.set(text.slice(taken.length), atMs);
    else if (text.startsWith(ended)) found.delete(text.slice(ended.length));
  }
  return found;
}

/** What a worker's lines starting with `prefix` name (roles, or receivers as "<topic> <name>"), from line `from` on, with when each came. */
function named(worker: Worker, prefix: string, from = 0): Map<string, number> {
  const found = new Map<string, number>();
  for (const { text, atMs } of worker.lines.slice(from)) {
    if (text.startsWith(prefix) && !found.has(text.slice(prefix.length))) found.set(text.slice(prefix.length), atMs);
  }
  return found;
}

test("three workers on Postgres records and roles with Kafka events finish 2,000 runs though one is SIGKILLed halfway", { timeout: 120_000 }, async (t) => {
  const db = await freshSchema();
  const workers = new Workers();
  try {
    const runs = 2000;
    const name = `kafka-multi-${randomBytes(4).toString("hex")}`;
    const args = ["--schema", db.schema, "--brokers", cluster.brokers.join(","), "--name", name, ...(cluster.mock ? ["--mock"] : [])];
    const startedMs = Date.now();
    // The two idle workers start first and share the roles; the third then triggers the runs and
    // takes its share over from them.
    const [second, third] = [workers.start("kafka", args), workers.start("kafka", args)];
    await Promise.all([second.said("ready"), third.said("ready")]);
    const first = workers.start("kafka", [...args, "--trigger", String(runs)]);
    await first.said("ready");
    const all = [first, second, third];
    const completed = async () =>
      Number(
        (await db.pool.query(`SELECT count(*) FROM "${db.schema}".stepwise_records WHERE run_state = $1`, [RunState.Completed])).rows[0].count,
      );
    await until("half of the runs to complete", async () => (await completed()) >= runs / 2, 60_000);

    // Kill whichever of the two idle workers holds more roles, so there is something to take over.
    const victim = current(second, "held ", "ended ").size >= current(third, "held ", "ended ").size ? second : third;
    const survivors = [first, victim === second ? third : second];
    const victimRoles = current(victim, "held ", "ended ");
    const victimReceivers = current(victim, "receiving ", "closed ");
    assert.ok(victimRoles.size > 0, "the killed worker held roles");
    // What the survivors say from here on is what they did after the kill.
    const linesAtKill = new Map(survivors.map((w) => [w, w.lines.length]));
    const killedMs = Date.now();
    await victim.kill();

    await until("every run to complete", async () => (await completed()) === runs, 90_000);
    const doneMs = Date.now();
    await until(
      "the outbox to be empty",
      async () => Number((await db.pool.query(`SELECT count(*) FROM "${db.schema}".stepwise_outbox`)).rows[0].count) === 0,
      30_000,
    );

    const { rows } = await db.pool.query(`SELECT status, version, run_state FROM "${db.schema}".stepwise_records`);
    assert.equal(rows.length, runs, "no run lost, none duplicated");
    for (const row of rows) {
      assert.equal(row.status, Status.Done);
      assert.equal(row.run_state, RunState.Completed);
      // One write at trigger and one per step: a step stored twice would show as version 5.
      assert.equal(row.version, 4);
    }

    // Takeover: when a survivor took each of the killed worker's roles, and re-joined each of its receivers' groups.
    // A receiver whose topic had no work left (a hook's, the delete topic's) may re-join after the
    // last run completed: joining a Kafka group takes seconds, so wait for it rather than expect it done.
    const reopened = (receiver: string) => survivors.some((w) => named(w, "receiving ", linesAtKill.get(w)).has(receiver));
    await until("every receiver of the killed worker to be opened again", () => [...victimReceivers.keys()].every(reopened), 60_000);
    const firstAfterKill = (prefix: string, key: string) =>
      Math.min(...survivors.map((w) => named(w, prefix, linesAtKill.get(w)).get(key) ?? Number.POSITIVE_INFINITY));
    const roleTakeoverMs = [...victimRoles.keys()].map((role) => firstAfterKill("held ", role) - killedMs);
    const receiverTakeoverMs = [...victimReceivers.keys()].map((receiver) => firstAfterKill("receiving ", receiver) - killedMs);
    assert.ok(roleTakeoverMs.every(Number.isFinite), "every role of the killed worker was taken over");
    assert.ok(receiverTakeoverMs.every(Number.isFinite), "every receiver of the killed worker was opened again");
    t.diagnostic(`total ${doneMs - startedMs} ms; killed after ${killedMs - startedMs} ms, all done ${doneMs - killedMs} ms later`);
    t.diagnostic(`killed worker held ${victimRoles.size} roles with ${victimReceivers.size} receivers`);
    t.diagnostic(`roles taken over within ${Math.max(...roleTakeoverMs)} ms (first ${Math.min(...roleTakeoverMs)} ms)`);
    t.diagnostic(`receivers re-joined within ${Math.max(...receiverTakeoverMs)} ms (first ${Math.min(...receiverTakeoverMs)} ms)`);
    const errors = all.flatMap((w) => w.lines.filter((l) => l.text.startsWith("error ")).map((l) => l.text));
    t.diagnostic(`errors logged by the workers: ${errors.length}${errors.length ? `, e.g. ${errors[0]}` : ""}`);

    await Promise.all(survivors.map((w) => w.stop()));
  } finally {
    await workers.killAll();
    await db.drop();
  }
});
