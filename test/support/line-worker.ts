// A worker process for the multi-process tests: runs the three-step line workflow on the backend
// it is given, triggers runs if asked to, and reports on stdout, one line each:
//   "ready" once the workflow runs, "triggered" once its runs are triggered, "halfway" once its
//   steps ran --halfway times, "held <role>" when it takes a role, "receiving <topic> <name>" once
//   a receiver is open, and "error <message>" for each error the workflow logs.
//   Events are kept (retention: false): the tests count every event each run wrote.
// Started with an IPC channel, it answers "states" (its processes' states, and its role-lease
// owner where the backend has one) and "trigger" (triggers more runs, or with `ids` those runs).
// --workflow parcel: runs version --workflow-version of the versioned parcel workflow
// (test/support/parcel-workflow.ts), its effects kept like the soak's; a run triggered by version 1
// with a foreign id "hold<s>-…" is held in status s (its step there fails until version 2 takes it).
// --workflow soak: runs the soak's two workflows (test/support/soak-workflow.ts) instead, their
// effects kept beside the backend's data (test/support/effects.ts), and settles waiting payments
// in a loop; --nats-url names the NATS server, --timeout-ms the soak's timeout.
//   line-worker.ts <backend> [--schema S] [--prefix P] [--path F] [--brokers B] [--mock]
//                  [--name N] [--trigger N] [--in-flight N] [--halfway N] [--ttl-ms MS] [--parallel N]
//                  [--die-in-commit N] [--die-halfway] [--step-delay-ms MS] [--batch-size N]
//                  [--workflow line|soak|parcel] [--workflow-version 1|2] [--nats-url U] [--timeout-ms MS]
//                  [--connection-name N] [--database D]
//                  [--chaos slow,failing] [--chaos-seed N]
// --chaos: wraps the adapters in stepwise/testing's chaos() with --chaos-seed: "slow" delays 5% of
// the calls by 1–50 ms, "failing" fails 1% before and 1% after the real call; the worker prints
// "chaos <delayed> <failed>" every second.
// --die-halfway: SIGKILLs itself once it said "halfway".
// --die-in-commit N: SIGKILLs itself once the N-th batch of several records is on its way to the
// store, so the store's transaction is cut off mid-commit from this side.
// Backends: postgres; nats, redis and kafka (records on PostgreSQL, outbox mode); redis-only
// (records, timeouts, events and roles on Redis); etcd (roles on etcd, the rest on PostgreSQL); sqlite;
// mysql (all on MariaDB/MySQL database --database, in tables the caller migrated under --prefix).
// Its PostgreSQL connections and Redis clients are named --connection-name, so that a fault
// injector can find and kill them (MariaDB's by their database).
import { parseArgs } from "node:util";
import { Etcd3 } from "etcd3";
import { createPool } from "mysql2/promise";
import pg from "pg";
import type { BuildConfig } from "stepwise";
import { quietLogger } from "./logger.js";
import { etcd } from "stepwise/etcd";
import { kafka } from "stepwise/kafka";
import { mysql } from "stepwise/mysql";
import { nats } from "stepwise/nats";
import { postgres, PostgresRecordStore, PostgresRoleScheduler, PostgresTimeoutStore } from "stepwise/postgres";
import { redis } from "stepwise/redis";
import { sqlite } from "stepwise/sqlite";
import { mysqlEffects, postgresEffects, redisEffects, sqliteEffects, type Effects } from "./effects.js";
import { connectNats, natsServers } from "./nats.js";
import { redisClient } from "./redis.js";
import { inFlight, named, reporting, runSoak, soakChaos, type Running } from "./soak-worker.js";
import { lineWorkflowOn, type Item } from "./workflows.js";
import { parcelWorkflowV1, parcelWorkflowV2, type Parcel, type V1Parcel } from "./parcel-workflow.js";

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    schema: { type: "string", default: "" },
    prefix: { type: "string", default: "" },
    path: { type: "string", default: "" },
    brokers: { type: "string", default: "" },
    mock: { type: "boolean", default: false },
    name: { type: "string", default: "multi" },
    trigger: { type: "string", default: "0" },
    "in-flight": { type: "string", default: "20" },
    halfway: { type: "string", default: "0" },
    "die-halfway": { type: "boolean", default: false },
    "ttl-ms": { type: "string", default: "1000" },
    parallel: { type: "string", default: "3" },
    "die-in-commit": { type: "string", default: "0" },
    "step-delay-ms": { type: "string", default: "0" },
    "batch-size": { type: "string" },
    workflow: { type: "string", default: "line" },
    "workflow-version": { type: "string", default: "1" },
    "nats-url": { type: "string", default: natsServers },
    "timeout-ms": { type: "string", default: "20" },
    "connection-name": { type: "string", default: "stepwise-worker" },
    database: { type: "string", default: process.env.MYSQL_DATABASE ?? "test" },
    chaos: { type: "string", default: "" },
    "chaos-seed": { type: "string", default: "1" },
  },
});
const [backend = ""] = positionals;
const ttlMs = Number(values["ttl-ms"]);
const say = (line: string) => void process.stdout.write(`${line.replaceAll("\n", " ")}\n`);

/** The backend's adapters, what closes the clients opened for them, and its lease owner if it has one. */
interface Backend {
  adapters: BuildConfig<Item>;
  close(): Promise<unknown>;
  owner?: string;
  /** Where the soak's effects are kept on this backend. */
  effects?: () => Effects | Promise<Effects>;
}

/** The name a fault injector finds this worker's connections by. */
const connectionName = values["connection-name"];

function postgresPool(): pg.Pool {
  const pool = new pg.Pool({
    host: process.env.PGHOST ?? "127.0.0.1",
    user: process.env.PGUSER ?? "postgres",
    database: process.env.PGDATABASE ?? "test",
    max: 10,
    application_name: connectionName,
  });
  // An idle connection the soak's fault injector ended is reported here; the pool replaces it.
  pool.on("error", () => {});
  return pool;
}

/** Records and timeouts on PostgreSQL, for the backends that only carry events or roles. */
function postgresStores(pool: pg.Pool) {
  const options = { pool, schema: values.schema };
  return { recordStore: new PostgresRecordStore(options), timeoutStore: new PostgresTimeoutStore(options) };
}

async function open(): Promise<Backend> {
  switch (backend) {
    case "postgres": {
      const pool = postgresPool();
      return {
        adapters: postgres({ pool, schema: values.schema, retention: false }),
        close: () => pool.end(),
        effects: () => postgresEffects(pool, values.schema),
      };
    }
    case "nats": {
      const pool = postgresPool();
      const connection = await connectNats(values["nats-url"]);
      return {
        adapters: { ...nats({ connection, prefix: values.prefix, events: { ackWaitMs: 2_000 }, roles: { ttlMs } }), ...postgresStores(pool) },
        close: () => Promise.all([pool.end(), connection.close()]),
        effects: () => postgresEffects(pool, values.schema),
      };
    }
    case "redis": {
      const pool = postgresPool();
      const client = redisClient();
      return {
        // Records on PostgreSQL after the bundle, whose own stores they replace; its events then need the outbox.
        adapters: { ...redis({ client, prefix: values.prefix, ttlMs }), ...postgresStores(pool), outbox: true },
        close: () => Promise.all([pool.end(), client.quit()]),
      };
    }
    case "redis-only": {
      const client = redisClient({ connectionName });
      return {
        adapters: redis({ client, prefix: values.prefix, ttlMs, retention: false }),
        close: () => client.quit(),
        effects: () => redisEffects(client, values.prefix),
      };
    }
    case "kafka": {
      const pool = postgresPool();
      const { eventStreamer } = kafka({
        brokers: values.brokers.split(","),
        // librdkafka's mock cluster cannot hand out producer ids (see test/adapters/kafka.test.ts).
        idempotent: !values.mock,
        sessionTimeoutMs: 6_000,
        maxWaitTimeMs: values.mock ? 50 : 500,
      });
      return {
        adapters: { eventStreamer, ...postgresStores(pool), roleScheduler: new PostgresRoleScheduler({ pool, retryMs: 50 }) },
        close: () => pool.end(),
      };
    }
    case "etcd": {
      const pool = postgresPool();
      const client = new Etcd3({ hosts: process.env.ETCD_HOSTS ?? "127.0.0.1:2379" });
      return {
        // etcd counts leases in whole seconds.
        adapters: { ...postgres({ pool, schema: values.schema, retention: false }), ...etcd({ client, prefix: values.prefix, ttl: Math.ceil(ttlMs / 1000) }) },
        close: async () => {
          await pool.end();
          client.close();
        },
      };
    }
    case "sqlite": {
      const adapters = sqlite(values.path, { leaseTtl: ttlMs, rolePollingFrequency: 50, retention: false });
      return { adapters, close: () => adapters.close(), owner: adapters.roleScheduler.owner, effects: () => sqliteEffects(adapters.db) };
    }
    case "mysql": {
      const pool = createPool({
        host: process.env.MYSQL_HOST ?? "127.0.0.1",
        port: Number(process.env.MYSQL_PORT ?? 3306),
        user: process.env.MYSQL_USER ?? "root",
        database: values.database,
        timezone: "Z",
        supportBigNumbers: true,
        bigNumberStrings: true,
        connectionLimit: 10,
      });
      return {
        adapters: mysql({ pool, prefix: values.prefix, retention: false }),
        close: () => pool.end(),
        effects: () => mysqlEffects(pool, values.prefix),
      };
    }
    default:
      throw new Error(`line-worker: unknown backend "${backend}"`);
  }
}

/** The adapters with a record store that kills this process in its `dieAt`-th batch write. */
function dyingInCommit(adapters: BuildConfig<Item>, dieAt: number): BuildConfig<Item> {
  const store = adapters.recordStore;
  const storeMany = store.storeMany?.bind(store);
  if (dieAt <= 0 || !storeMany) return adapters;
  let batches = 0;
  const dyingStoreMany: typeof storeMany = (records) => {
    const writing = storeMany(records);
    if (records.length > 1 && ++batches === dieAt) {
      say("dying in a commit");
      // Once the statement is written to the socket, before its answer.
      setImmediate(() => process.kill(process.pid, "SIGKILL"));
    }
    return writing;
  };
  // The store's own methods, bound to it (they use private fields), but storeMany.
  const recordStore = new Proxy(store, {
    get: (target, key) => {
      if (key === "storeMany") return dyingStoreMany;
      const value: unknown = Reflect.get(target, key);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return { ...adapters, recordStore };
}

const opened = await open();
opened.adapters = dyingInCommit(opened.adapters, Number(values["die-in-commit"]));
opened.adapters = soakChaos(opened.adapters, values.chaos.split(",").filter((kind) => kind !== ""), Number(values["chaos-seed"]), say);
const config = {
  // The outbox sees other processes' writes by polling its table.
  defaultOptions: { pollingFrequency: 50, errBackOff: 50 },
  logger: { ...quietLogger, error: (message: unknown) => say(`error ${String(message)}`) },
};

/** The line workflow, its step calls counted for --halfway. */
async function line(): Promise<Running> {
  const { wf, calls } = lineWorkflowOn(reporting(opened.adapters, say), {
    name: values.name,
    stepOptions: {
      parallelCount: Number(values.parallel),
      errBackOff: 50,
      ...(values["batch-size"] === undefined ? {} : { batchSize: Number(values["batch-size"]) }),
    },
    stepDelayMs: Number(values["step-delay-ms"]),
    config,
  });
  await wf.run();
  const halfway = Number(values.halfway);
  if (halfway > 0) {
    // Checked every millisecond rather than from the step: lineWorkflowOn owns the step functions.
    // Watched from before the trigger: the steps run while runs are still being triggered.
    const watch = setInterval(() => {
      if (calls.size < halfway) return;
      clearInterval(watch);
      say("halfway");
      // Killed by itself rather than by the test, which would hear of "halfway" a moment later.
      if (values["die-halfway"]) process.kill(process.pid, "SIGKILL");
    }, 1);
  }
  const start = (id: string) => wf.trigger(id, { initialValue: { id, count: 0 } });
  return {
    stop: () => wf.stop(),
    states: () => wf.states(),
    trigger: ({ prefix = "x", count = 0, ids }) => inFlight(ids ?? named(prefix, count), Number(values["in-flight"]), start),
  };
}

/** The soak's two workflows, and the loop that settles the payments of waiting orders. */
async function soak(): Promise<Running> {
  if (!opened.effects) throw new Error(`line-worker: the soak has no effects store on "${backend}"`);
  return runSoak(opened.adapters, opened.effects, {
    parallelCount: Number(values.parallel),
    timeoutMs: Number(values["timeout-ms"]),
    inFlight: Number(values["in-flight"]),
    config,
    say,
  });
}

/** One version of the parcel workflow; its runs held where their foreign id says (version 1). */
async function parcel(): Promise<Running> {
  if (!opened.effects) throw new Error(`line-worker: the parcel workflow has no effects store on "${backend}"`);
  const options = {
    name: values.name,
    effects: await opened.effects(),
    // A held run must stay in flight, never paused; its retries (and a version-1 process's refusals
    // of newer runs) back off up to a second, so they do not flood the machine.
    stepOptions: { parallelCount: Number(values.parallel), errBackOff: { initial: 50, max: 1000 }, pauseAfterErrCount: 0 },
    config,
  };
  const adapters = reporting(opened.adapters, say) as BuildConfig<unknown>;
  const parallelTriggers = Number(values["in-flight"]);
  if (values["workflow-version"] === "1") {
    const wf = parcelWorkflowV1(adapters as BuildConfig<V1Parcel>, options);
    await wf.run();
    const start = (id: string) => {
      const holdAt = /^hold(\d+)-/.exec(id)?.[1];
      return wf.trigger(id, { initialValue: { id, grams: 0, marks: [], ...(holdAt ? { holdAt: Number(holdAt) } : {}) } });
    };
    return { stop: () => wf.stop(), states: () => wf.states(), trigger: ({ prefix = "x", count = 0, ids }) => inFlight(ids ?? named(prefix, count), parallelTriggers, start) };
  }
  const wf = parcelWorkflowV2(adapters as BuildConfig<Parcel>, options);
  await wf.run();
  const start = (id: string) => wf.trigger(id, { initialValue: { id, kg: 0, marks: [] } });
  return { stop: () => wf.stop(), states: () => wf.states(), trigger: ({ prefix = "x", count = 0, ids }) => inFlight(ids ?? named(prefix, count), parallelTriggers, start) };
}

const running = values.workflow === "soak" ? await soak() : values.workflow === "parcel" ? await parcel() : await line();
say("ready");

const triggerCount = Number(values.trigger);
if (triggerCount > 0) {
  await running.trigger({ prefix: "item", count: triggerCount });
  say("triggered");
}

process.on("message", (message: { kind: string; id: number; prefix?: string; count?: number; ids?: string[] }) => {
  const reply = (body: object) => process.send?.({ id: message.id, ...body });
  if (message.kind === "states") reply({ states: running.states(), owner: opened.owner });
  if (message.kind === "trigger") {
    void running.trigger(message).then(
      () => reply({ done: true }),
      (err: unknown) => reply({ error: String(err) }),
    );
  }
});

process.on("SIGTERM", () => {
  void running
    .stop()
    .then(() => opened.close())
    .then(() => process.exit(0));
});
