// npm run soak -- --backend <memory|sqlite|postgres|mysql|redis|nats> --runs N --workers W
//                 --kill-every-ms K --faults <list> [--fault-every-ms F] [--bound-ms B] [--timeout-ms T] [--json]
//
// Runs the soak's workflows (test/support/soak-workflow.ts: steps, a callback, a timeout and a
// connected workflow) in W worker processes (test/support/line-worker.ts --workflow soak), while
// SIGKILLing a random worker every K ms once all W are ready (and starting another in its place) and injecting one of
// the named faults every F ms:
//   connections   PostgreSQL pg_terminate_backend, MariaDB KILL, Redis CLIENT KILL of two of the
//                 workers' connections (records on PostgreSQL for nats)
//   nats-restart  the soak's own nats-server is stopped and started again on its data
//   slow, failing not timed: every worker's adapters are wrapped in stepwise/testing's chaos()
//                 (line-worker.ts --chaos), slow delaying 5% of the adapter calls by 1–50 ms,
//                 failing failing 1% before and 1% after the real call; counted as injected
// Each of the N soak runs is an order run and its payment run; it is completed once both are.
// On the memory backend the workers are workflows in this process on one memory() bundle, and a
// kill cuts one off as SIGKILL would (bench/soak-memory.ts).
//
// The last stdout line is JSON:
//   runs, completed; lost: runs not completed within --bound-ms of the start;
//   duplicates: effects a handler applied again after its transition was stored (test/support/effects.ts);
//   version_gaps: records whose stored versions skip or repeat: the final version is not one per
//     transition, a handler saw another version than its place in the workflow gives, or (SQL
//     backends, events kept) the events of a run do not carry each version from 1 to the final once;
//   kills, faults (injections per kind), seconds (start to the last run completed, or the bound);
//   max_recovery_ms: the longest time from a kill until every role the killed worker held was
//     held again by a live worker (0 for a worker that held none).
// Everything else goes to stderr.
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { setTimeout as delay } from "node:timers/promises";
import { parseArgs } from "node:util";
import { createPool } from "mysql2/promise";
import { RunState, type RecordStore } from "stepwise";
import { migrate as migrateMysql, MysqlRecordStore } from "stepwise/mysql";
import { PostgresRecordStore } from "stepwise/postgres";
import { RedisRecordStore } from "stepwise/redis";
import { sqlite } from "stepwise/sqlite";
import { mysqlEffects, postgresEffects, redisEffects, sqliteEffects, type Effects } from "../test/support/effects.js";
import { privateNatsServer } from "../test/support/nats.js";
import { freshSchema } from "../test/support/postgres.js";
import { deleteKeys, freePort, freshPrefix, killConnections, redisClient } from "../test/support/redis.js";
import { checkVersions } from "../test/support/soak-check.js";
import { soakNames } from "../test/support/soak-workflow.js";
import { Workers, type Worker, type WorkerBackend } from "../test/support/workers.js";
import { memoryStorage } from "./soak-memory.js";

const { values } = parseArgs({
  options: {
    backend: { type: "string", default: "sqlite" },
    runs: { type: "string", default: "1000" },
    workers: { type: "string", default: "3" },
    "kill-every-ms": { type: "string", default: "2000" },
    faults: { type: "string", default: "" },
    "fault-every-ms": { type: "string", default: "1000" },
    "bound-ms": { type: "string", default: "900000" },
    // How long each order waits at its timeout: a longer wait keeps every run in flight across kills.
    "timeout-ms": { type: "string", default: "20" },
    json: { type: "boolean", default: false },
  },
});

/** What the soak measured; printed as the last line. */
interface SoakResult {
  backend: string;
  runs: number;
  completed: number;
  lost: number;
  duplicates: number;
  kills: number;
  faults: { [kind: string]: number };
  seconds: number;
  max_recovery_ms: number;
  version_gaps: number;
}

/** What the driver asks of a worker: a process of its own, or on memory workflows in this process. */
export type SoakWorker = Pick<Worker, "lines" | "said" | "triggerIds" | "kill" | "stop">;

/**
 * What each worker runs with. The driver gives every field, so that line-worker.ts's defaults
 * cannot make a process worker run otherwise than an in-process one.
 */
export interface SoakWorkerSettings {
  ttlMs: number;
  inFlight: number;
  parallelCount: number;
  timeoutMs: number;
  chaos: readonly string[];
  chaosSeed: number;
}

/** Starts workers with the soak's settings, and kills every one still running. */
export interface SoakWorkers {
  start(settings: SoakWorkerSettings): SoakWorker;
  killAll(): Promise<void>;
}

/** Where one soak keeps its runs and effects, the faults it can inject there, and its removal. */
export interface Storage {
  /** The line worker's backend, its workers each a process; or the workers themselves. */
  worker: WorkerBackend | SoakWorkers;
  /** The line worker's arguments that find this storage. */
  args: string[];
  store: RecordStore;
  effects: Effects;
  faults: { [kind: string]: () => Promise<void> };
  /** The record versions of each run's kept events, where the events are in a table; on memory, of its stored versions. */
  eventVersions?: () => Promise<Map<string, number[]>>;
  drop(): Promise<void>;
}

const connectionName = `soak-${randomBytes(4).toString("hex")}`;

async function postgresStorage(extraArgs: string[] = []): Promise<Storage> {
  const db = await freshSchema();
  const effects = await postgresEffects(db.pool, db.schema);
  return {
    worker: "postgres",
    args: ["--schema", db.schema, ...extraArgs],
    store: new PostgresRecordStore({ pool: db.pool, schema: db.schema }),
    effects,
    faults: {
      connections: async () => {
        await db.pool.query(
          `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1 ORDER BY random() LIMIT 2`,
          [connectionName],
        );
      },
    },
    eventVersions: async () => {
      const { rows } = await db.pool.query<{ run_id: string; version: number }>(
        `SELECT headers->>'run_id' AS run_id, (headers->>'record_version')::int AS version FROM "${db.schema}".stepwise_events`,
      );
      return grouped(rows);
    },
    drop: db.drop,
  };
}

const storages: { readonly [backend: string]: () => Promise<Storage> } = {
  memory: async () => memoryStorage(),
  postgres: () => postgresStorage(),
  sqlite: async () => {
    const dir = await mkdtemp(join(tmpdir(), "stepwise-soak-"));
    const path = join(dir, "soak.db");
    const adapters = sqlite(path, { retention: false });
    return {
      worker: "sqlite",
      args: ["--path", path],
      store: adapters.recordStore,
      effects: sqliteEffects(adapters.db),
      // One file, no connection to kill: the workers' own deaths are its faults.
      faults: {},
      eventVersions: async () => {
        const rows = adapters.db
          .prepare(`SELECT json_extract(headers, '$.run_id') AS run_id, json_extract(headers, '$.record_version') AS version FROM stepwise_events`)
          .all() as { run_id: string; version: number | string }[];
        return grouped(rows);
      },
      drop: async () => {
        await adapters.close();
        adapters.db.close();
        await rm(dir, { recursive: true, force: true });
      },
    };
  },
  mysql: async () => {
    const database = `soak_${randomBytes(4).toString("hex")}`;
    const options = { host: process.env.MYSQL_HOST ?? "127.0.0.1", port: Number(process.env.MYSQL_PORT ?? 3306), user: process.env.MYSQL_USER ?? "root" };
    const admin = createPool({ ...options, database: "test", connectionLimit: 2 });
    await admin.query(`CREATE DATABASE ${database}`);
    const pool = createPool({ ...options, database, timezone: "Z", supportBigNumbers: true, bigNumberStrings: true, connectionLimit: 4 });
    await migrateMysql(pool, { prefix: "stepwise_" });
    const effects = await mysqlEffects(pool, "stepwise_");
    return {
      worker: "mysql",
      args: ["--database", database, "--prefix", "stepwise_"],
      store: new MysqlRecordStore({ pool, prefix: "stepwise_" }),
      effects,
      faults: {
        connections: async () => {
          // The workers' connections are the ones on the soak's database, less this driver's own.
          const [rows] = await admin.query(`SELECT ID FROM information_schema.PROCESSLIST WHERE DB = ? ORDER BY RAND() LIMIT 2`, [database]);
          for (const { ID } of rows as { ID: number }[]) await admin.query(`KILL ${Number(ID)}`).catch(() => {});
        },
      },
      drop: async () => {
        await pool.end();
        if (process.env.SOAK_KEEP) console.error(`kept database ${database}`);
        else await admin.query(`DROP DATABASE ${database}`);
        await admin.end();
      },
    };
  },
  redis: async () => {
    const client = redisClient();
    const prefix = freshPrefix("soak");
    return {
      worker: "redis-only",
      args: ["--prefix", prefix],
      store: new RedisRecordStore({ client, prefix }),
      effects: redisEffects(client, prefix),
      faults: {
        connections: async () => {
          await killConnections(client, connectionName, 2);
        },
      },
      drop: async () => {
        await deleteKeys(client, prefix);
        await client.quit();
      },
    };
  },
  nats: async () => {
    const dir = await mkdtemp(join(tmpdir(), "stepwise-soak-nats-"));
    const port = await freePort();
    const server = privateNatsServer(port, dir);
    await server.start();
    const storage = await postgresStorage(["--nats-url", `127.0.0.1:${port}`, "--prefix", "soak"]);
    return {
      ...storage,
      worker: "nats",
      // The events go through the outbox to NATS: none stay in the PostgreSQL table.
      eventVersions: undefined,
      faults: {
        ...storage.faults,
        "nats-restart": async () => {
          await server.stop();
          await server.start();
        },
      },
      drop: async () => {
        await storage.drop();
        await server.stop();
        await rm(dir, { recursive: true, force: true });
      },
    };
  },
};

/** Rows of (run id, version) by run id. */
function grouped(rows: { run_id: string; version: number | string }[]): Map<string, number[]> {
  const versions = new Map<string, number[]>();
  for (const row of rows) {
    const list = versions.get(row.run_id) ?? [];
    list.push(Number(row.version));
    versions.set(row.run_id, list);
  }
  return versions;
}

/** How many soak runs completed: both the order and the payment of the id. */
async function completedRuns(store: RecordStore, runs: number): Promise<number> {
  const done = async (workflowName: string) =>
    new Set((await store.list({ workflowName, limit: runs + 1000, filter: { runState: [RunState.Completed] } })).map((r) => r.foreignId));
  const [orders, payments] = await Promise.all([done(soakNames.order), done(soakNames.payment)]);
  let completed = 0;
  for (const id of orders) if (payments.has(id)) completed++;
  return completed;
}

/** A kill: when, and the roles the worker held then. */
interface Kill {
  atMs: number;
  roles: Set<string>;
  worker: SoakWorker;
}

/** The roles `worker` holds according to its lines up to now. */
function heldRoles(worker: SoakWorker): Set<string> {
  const held = new Set<string>();
  for (const { text } of worker.lines) {
    if (text.startsWith("held ")) held.add(text.slice(5));
    if (text.startsWith("ended ")) held.delete(text.slice(6));
  }
  return held;
}

/** The longest time from a kill until each role the killed worker held was held again by another. */
function maxRecoveryMs(kills: readonly Kill[], workers: readonly SoakWorker[], endMs: number): number {
  let longest = 0;
  for (const kill of kills) {
    for (const role of kill.roles) {
      let takenAt = endMs;
      for (const worker of workers) {
        if (worker === kill.worker) continue;
        const line = worker.lines.find((l) => l.atMs >= kill.atMs && l.text === `held ${role}`);
        if (line && line.atMs < takenAt) takenAt = line.atMs;
      }
      longest = Math.max(longest, takenAt - kill.atMs);
    }
  }
  return longest;
}

/** Workers in processes of their own (test/support/line-worker.ts) on `backend`, its storage found by `storageArgs`. */
function processWorkers(backend: WorkerBackend, storageArgs: readonly string[]): SoakWorkers {
  const workers = new Workers();
  return {
    start: (settings) =>
      workers.start(backend, [
        ...storageArgs,
        "--workflow", "soak",
        "--connection-name", connectionName,
        "--ttl-ms", String(settings.ttlMs),
        "--in-flight", String(settings.inFlight),
        "--parallel", String(settings.parallelCount),
        "--timeout-ms", String(settings.timeoutMs),
        "--chaos", settings.chaos.join(","),
        "--chaos-seed", String(settings.chaosSeed),
      ]),
    killAll: () => workers.killAll(),
  };
}

/** A random element of `list`. */
const pick = <T>(list: readonly T[]): T | undefined => list[Math.floor(Math.random() * list.length)];

async function soakOverProcesses(backend: string, runs: number, workerCount: number, killEveryMs: number, faultKinds: string[], faultEveryMs: number, boundMs: number): Promise<SoakResult> {
  const make = storages[backend];
  if (!make) throw new Error(`unknown backend "${backend}"; known: ${Object.keys(storages).join(", ")}`);
  const storage = await make();
  const chaosKinds = faultKinds.filter((kind) => kind === "slow" || kind === "failing");
  const timedKinds = faultKinds.filter((kind) => kind !== "slow" && kind !== "failing");
  for (const kind of timedKinds) {
    if (!storage.faults[kind]) throw new Error(`the fault "${kind}" does not apply to ${backend}; it has: ${[...Object.keys(storage.faults), "slow", "failing"].join(", ")}`);
  }
  const workers = typeof storage.worker === "string" ? processWorkers(storage.worker, storage.args) : storage.worker;
  const all: SoakWorker[] = [];
  const ready = new Set<SoakWorker>();
  const settings = { ttlMs: 1000, inFlight: 50, parallelCount: 3, timeoutMs: Number(values["timeout-ms"]), chaos: chaosKinds };
  const startWorker = () => {
    // Each worker its own seed, so that they do not fail the same calls in step.
    const worker = workers.start({ ...settings, chaosSeed: all.length + 1 });
    all.push(worker);
    void worker.said("ready", 120_000).then(
      () => ready.add(worker),
      () => {},
    );
    return worker;
  };
  const kills: Kill[] = [];
  const faults: { [kind: string]: number } = Object.fromEntries(faultKinds.map((k) => [k, 0]));
  const done = new AbortController();
  try {
    for (let i = 0; i < workerCount; i++) startWorker();
    await Promise.all(all.map((w) => w.said("ready", 120_000)));
    const startedMs = Date.now();
    const log = (line: string) => console.error(`[soak ${backend} ${((Date.now() - startedMs) / 1000).toFixed(1)} s] ${line}`);

    const triggering = (async () => {
      const ids = Array.from({ length: runs }, (_, i) => `soak-${i}`);
      for (let from = 0; from < runs; from += 250) {
        const batch = ids.slice(from, from + 250);
        for (;;) {
          const worker = pick([...ready]);
          try {
            if (!worker) throw new Error("no worker ready");
            await worker.triggerIds(batch);
            break;
          } catch (err) {
            // The worker was killed with the batch in hand: another takes the whole batch again.
            log(`trigger batch ${from}: ${String(err)}`);
            await delay(50);
          }
        }
      }
      log(`all ${runs} runs triggered`);
    })();

    const killing = (async () => {
      if (killEveryMs <= 0) return;
      while (!done.signal.aborted) {
        await delay(killEveryMs, undefined, { signal: done.signal }).catch(() => {});
        // A kill waits for the last one's replacement to be ready: where starting a worker takes
        // longer than K ms (a loaded machine), kills space out instead of leaving no worker at all,
        // which would measure start-up time rather than the backend. A worker that never gets
        // ready (it crashed) holds the kills back for at most a minute.
        const waitedFromMs = Date.now();
        while (ready.size < workerCount && Date.now() - waitedFromMs < 60_000 && !done.signal.aborted) await delay(50);
        if (done.signal.aborted) return;
        const victim = pick([...ready]);
        if (!victim) continue;
        ready.delete(victim);
        kills.push({ atMs: Date.now(), roles: heldRoles(victim), worker: victim });
        await victim.kill();
        startWorker();
      }
    })();

    const faulting = (async () => {
      if (timedKinds.length === 0) return;
      while (!done.signal.aborted) {
        await delay(faultEveryMs, undefined, { signal: done.signal }).catch(() => {});
        if (done.signal.aborted) return;
        const kind = pick(timedKinds) ?? "";
        try {
          await storage.faults[kind]?.();
          faults[kind] = (faults[kind] ?? 0) + 1;
        } catch (err) {
          log(`fault ${kind}: ${String(err)}`);
        }
      }
    })();

    let completed = 0;
    let lastLogMs = 0;
    while (Date.now() - startedMs < boundMs) {
      try {
        completed = await completedRuns(storage.store, runs);
      } catch (err) {
        // The driver's own connection may be among those a fault killed.
        log(`counting: ${String(err)}`);
      }
      if (completed >= runs) break;
      if (Date.now() - lastLogMs > 10_000) {
        lastLogMs = Date.now();
        log(`${completed}/${runs} completed, ${kills.length} kills, faults ${JSON.stringify(faults)}`);
      }
      await delay(1_000);
    }
    const endMs = Date.now();
    done.abort();
    await Promise.all([killing, faulting]);
    await Promise.race([triggering, delay(1)]);
    const seconds = (endMs - startedMs) / 1000;
    log(`${completed}/${runs} completed in ${seconds} s; checking versions and effects`);

    const checked = await checkVersions(storage.store, storage.effects, storage.eventVersions);
    log(`effects applied again before their transition was stored (retries, allowed): ${checked.retries}`);
    for (const line of checked.detail) log(`version gap: ${line}`);
    const errors = new Map<string, number>();
    for (const worker of all) {
      for (const { text } of worker.lines) if (text.startsWith("error")) errors.set(text.slice(0, 120), (errors.get(text.slice(0, 120)) ?? 0) + 1);
    }
    for (const [text, count] of [...errors].sort((a, b) => b[1] - a[1]).slice(0, 10)) log(`${count}× ${text}`);
    await Promise.all([...ready].map((w) => w.stop()));
    for (const worker of all) {
      const [delayed = 0, failed = 0] = worker.lines.findLast((l) => l.text.startsWith("chaos "))?.text.split(" ").slice(1).map(Number) ?? [];
      if (chaosKinds.includes("slow")) faults.slow = (faults.slow ?? 0) + delayed;
      if (chaosKinds.includes("failing")) faults.failing = (faults.failing ?? 0) + failed;
    }
    return {
      backend,
      runs,
      completed,
      lost: runs - completed,
      duplicates: checked.duplicates,
      kills: kills.length,
      faults,
      seconds,
      max_recovery_ms: maxRecoveryMs(kills, all, endMs),
      version_gaps: checked.versionGaps,
    };
  } finally {
    done.abort();
    await workers.killAll();
    await storage.drop();
  }
}

const runs = Number(values.runs);
const faultKinds = values.faults.split(",").filter((k) => k !== "");
const result = await soakOverProcesses(values.backend, runs, Number(values.workers), Number(values["kill-every-ms"]), faultKinds, Number(values["fault-every-ms"]), Number(values["bound-ms"]));
if (!values.json) console.error(`lost ${result.lost}, duplicates ${result.duplicates}, version_gaps ${result.version_gaps}`);
console.log(JSON.stringify(result));
// Sockets of killed connections may linger in the pools; the soak is over.
process.exit(0);
