// Versioned workflows across a deploy, with worker processes (test/support/line-worker.ts
// --workflow parcel) on SQLite and PostgreSQL: version-1 processes leave runs in flight in several
// statuses, one of which version 2 removed; version-2 processes (alone, or beside a version-1
// process still running) then finish every run exactly once, in version 2's shape.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import Database from "better-sqlite3";
import { RunState } from "stepwise";
import type { Effect } from "./support/effects.js";
import { ParcelStatus, V1Status, type Parcel } from "./support/parcel-workflow.js";
import { freshSchema } from "./support/postgres.js";
import { until } from "./support/until.js";
import { Workers, type WorkerBackend } from "./support/workers.js";

const dir = mkdtempSync(join(tmpdir(), "stepwise-upgrade-deploy-"));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A stored run as the test reads it from the database. */
interface Row {
  foreignId: string;
  runId: string;
  status: number;
  runState: number;
  workflowVersion: number;
  object: string;
}

/** The database the workers share: the arguments that point them at it, and its runs and effects. */
interface SharedStore {
  args: string[];
  rows(): Promise<Row[]>;
  effects(): Promise<Effect[]>;
  close(): Promise<void>;
}

async function sharedStore(backend: "sqlite" | "postgres"): Promise<SharedStore> {
  if (backend === "postgres") {
    const db = await freshSchema();
    const s = `"${db.schema}"`;
    return {
      args: ["--schema", db.schema],
      rows: async () =>
        (
          await db.pool.query<Row>(
            `SELECT foreign_id AS "foreignId", run_id AS "runId", status, run_state AS "runState", workflow_version AS "workflowVersion",
               convert_from(object, 'UTF8') AS object FROM ${s}.stepwise_records`,
          )
        ).rows,
      effects: async () => {
        const exists = await db.pool.query(`SELECT to_regclass($1) AS found`, [`${s}.soak_effects`]);
        if (!exists.rows[0]?.found) return [];
        return (await db.pool.query<Effect>(`SELECT run_id AS "runId", handler, version, retries, duplicates FROM ${s}.soak_effects`)).rows;
      },
      close: () => db.drop(),
    };
  }
  const path = join(dir, `${randomBytes(6).toString("hex")}.db`);
  let db: Database.Database | undefined;
  // Opened once the first worker made the file; readers never block the workers' WAL writes.
  const open = () => (db ??= new Database(path, { readonly: true, fileMustExist: true }));
  const hasTable = (name: string) => open().prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(name) !== undefined;
  return {
    args: ["--path", path],
    rows: async () => {
      if (!hasTable("stepwise_records")) return [];
      const rows = open()
        .prepare(
          `SELECT foreign_id AS foreignId, run_id AS runId, status, run_state AS runState, workflow_version AS workflowVersion, object
           FROM stepwise_records`,
        )
        .all() as (Omit<Row, "object"> & { object: Buffer })[];
      return rows.map((row) => ({ ...row, object: row.object.toString("utf8") }));
    },
    effects: async () => (hasTable("soak_effects") ? (open().prepare("SELECT run_id AS runId, handler, version, retries, duplicates FROM soak_effects").all() as Effect[]) : []),
    close: async () => {
      db?.close();
    },
  };
}

/** Runs held by version 1 in each of these statuses: Labelled is one version 2 no longer has. */
const holds = [V1Status.Received, V1Status.Weighed, V1Status.Inspected, V1Status.Labelled];
const heldIds = (perStatus: number) => holds.flatMap((status) => Array.from({ length: perStatus }, (_, i) => `hold${status}-${i}`));
const holdOf = (foreignId: string) => Number(/^hold(\d+)-/.exec(foreignId)?.[1] ?? 0);

/** The handlers that ran for each run, by foreign id; throws on any handler applied twice. */
function handlersByRun(rows: readonly Row[], effects: readonly Effect[]): Map<string, string[]> {
  assert.deepEqual(effects.filter((e) => e.duplicates > 0), [], "no handler ran twice for one run");
  const foreignIds = new Map(rows.map((row) => [row.runId, row.foreignId]));
  const handlers = new Map<string, string[]>();
  for (const effect of effects) {
    const foreignId = foreignIds.get(effect.runId) ?? effect.runId;
    handlers.set(foreignId, [...(handlers.get(foreignId) ?? []), effect.handler].sort());
  }
  return handlers;
}

/** What every run must look like at the end: delivered by version 2, in its shape, each step once. */
function assertAllDelivered(rows: readonly Row[], effects: readonly Effect[], expected: readonly string[]): void {
  assert.deepEqual(rows.map((r) => r.foreignId).sort(), [...expected].sort(), "every run there, none twice");
  const handlers = handlersByRun(rows, effects);
  for (const row of rows) {
    assert.equal(row.status, ParcelStatus.Delivered, `${row.foreignId} delivered`);
    assert.equal(row.runState, RunState.Completed);
    assert.equal(row.workflowVersion, 2, `${row.foreignId} stored as version 2`);
    const parcel = JSON.parse(row.object) as Parcel & { grams?: number };
    assert.equal(parcel.grams, undefined, `${row.foreignId} has version 2's shape`);
    assert.equal(parcel.tracking, `T-${row.foreignId}`);
    assert.equal(new Set(parcel.marks).size, parcel.marks.length, `${row.foreignId}: no change applied twice (${parcel.marks.join(", ")})`);
    const hold = holdOf(row.foreignId);
    // Version 1 inspected and labelled what it got to before its hold; version 2 does neither.
    const v1Only = [...(hold > V1Status.Weighed ? ["inspect"] : []), ...(hold > V1Status.Inspected ? ["label"] : [])];
    assert.deepEqual(handlers.get(row.foreignId), ["deliver", ...v1Only, "ship", "weigh"].sort(), `${row.foreignId}: each step once`);
    if (hold > 0) assert.equal(parcel.marks.filter((m) => m === "upgraded").length, 1, `${row.foreignId} upgraded once`);
    else assert.ok(parcel.marks.every((m) => m.startsWith("v2:")), `${row.foreignId}, started by version 2, was handled by version 2 alone`);
  }
}

/**
 * Waits until the stored runs satisfy `done`; on a timeout the error counts the runs by status,
 * version and run state, so a failure under load says how far the runs got.
 */
async function untilRuns(store: SharedStore, what: string, done: (rows: Row[]) => boolean, timeoutMs: number): Promise<void> {
  try {
    await until(what, async () => done(await store.rows()), timeoutMs);
  } catch (err) {
    const counts = new Map<string, number>();
    for (const row of await store.rows()) {
      const key = `status ${row.status} v${row.workflowVersion} state ${row.runState}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    throw new Error(`${(err as Error).message}; runs: ${JSON.stringify(Object.fromEntries(counts))}`, { cause: err });
  }
}

const isHeld = (rows: Row[], count: number) => rows.filter((r) => r.status === holdOf(r.foreignId)).length === count;
const isDelivered = (rows: Row[], count: number) => rows.filter((r) => r.status === ParcelStatus.Delivered).length === count;

const parcelArgs = (store: SharedStore, version: 1 | 2, name: string) => [...store.args, "--workflow", "parcel", "--workflow-version", String(version), "--name", name];

for (const backend of ["sqlite", "postgres"] as const satisfies readonly WorkerBackend[]) {
  test(`${backend}: runs version-1 processes left in flight, one in a status version 2 removed, finish under version-2 processes, each step once`, { timeout: 180_000 }, async () => {
    const store = await sharedStore(backend);
    const workers = new Workers();
    const name = `parcels-${randomBytes(3).toString("hex")}`;
    try {
      const v1 = [workers.start(backend, parcelArgs(store, 1, name)), workers.start(backend, parcelArgs(store, 1, name))];
      await Promise.all(v1.map((w) => w.said("ready")));
      const ids = heldIds(15);
      await v1[0]?.triggerIds(ids);
      await untilRuns(store, "every run to be held where its id says", (rows) => isHeld(rows, ids.length), 60_000);
      // The deploy: version 1 stops with its held events un-acked, version 2 starts.
      await Promise.all(v1.map((w) => w.stop()));
      const v2 = [workers.start(backend, parcelArgs(store, 2, name)), workers.start(backend, parcelArgs(store, 2, name))];
      await untilRuns(store, "every run to be delivered", (rows) => isDelivered(rows, ids.length), 120_000);
      assertAllDelivered(await store.rows(), await store.effects(), ids);
      await Promise.all(v2.map((w) => w.stop()));
    } finally {
      await workers.killAll();
      await store.close();
    }
  });

  test(`${backend}: a fleet of version-1 and version-2 processes, then version 2 alone, finishes every run of both versions exactly once`, { timeout: 180_000 }, async () => {
    const store = await sharedStore(backend);
    const workers = new Workers();
    const name = `parcels-${randomBytes(3).toString("hex")}`;
    try {
      const old = workers.start(backend, parcelArgs(store, 1, name));
      await old.said("ready");
      const oldIds = heldIds(10);
      await old.triggerIds(oldIds);
      await untilRuns(store, "every run to be held where its id says", (rows) => isHeld(rows, oldIds.length), 60_000);
      // The rolling deploy: version-2 processes join, take roles from the version-1 one and start runs.
      const v2 = [workers.start(backend, parcelArgs(store, 2, name)), workers.start(backend, parcelArgs(store, 2, name))];
      await Promise.all(v2.map((w) => w.said("ready")));
      const newIds = Array.from({ length: 30 }, (_, i) => `new-${i}`);
      await v2[0]?.triggerIds(newIds);
      // Both versions at work on one store: version 1 still holds some roles, and refuses what version 2 wrote there.
      const handledByV2 = (rows: Row[]) => rows.some((r) => (JSON.parse(r.object) as Parcel).marks.some((m) => m.startsWith("v2:")));
      await untilRuns(store, "version 2 to handle runs while version 1 runs", handledByV2, 60_000);
      assert.equal(old.child.exitCode, null, "version 1 still runs");
      await old.stop();
      const refusals = old.lines.filter((line) => line.text.includes("newer than this process's version 1")).length;
      console.log(`${backend}: the version-1 process refused runs of version 2 ${refusals} times while both ran`);
      const all = [...oldIds, ...newIds];
      await untilRuns(store, "every run to be delivered", (rows) => isDelivered(rows, all.length), 120_000);
      assertAllDelivered(await store.rows(), await store.effects(), all);
      await Promise.all(v2.map((w) => w.stop()));
    } finally {
      await workers.killAll();
      await store.close();
    }
  });
}
