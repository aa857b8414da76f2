// The benchmark workload on DBOS Transact (PostgreSQL): one workflow of three steps, each a
// DBOS.runStep that counts once. DBOS checkpoints the workflow's start, each step's output and
// the workflow's end in its system database. Completion is what a DBOS user awaits: the handle
// from DBOS.startWorkflow, handle.getResult().
//   node bench/peers/dbos.mjs [--n 2000] [--seq 200]
// Settings that differ from DBOS' defaults:
// - a system-database schema of our own (systemDatabaseSchemaName), dropped afterwards;
// - a 20-connection pool (systemDatabasePoolSize, default 10), as stepwise's benchmark uses;
// - logLevel "warn" (default "info"), so its launch messages stay out of the result line's way.
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import process from "node:process";
import { URL } from "node:url";
import { parseArgs } from "node:util";
import { DBOS } from "@dbos-inc/dbos-sdk";
import pg from "pg";
import { childOptions, runBenchmark } from "../measure.mjs";

const { values } = parseArgs({ options: { ...childOptions, "pool-size": { type: "string", default: "20" } } });
const poolSize = Number(values["pool-size"]);
const database = {
  host: process.env.PGHOST ?? "127.0.0.1",
  port: Number(process.env.PGPORT ?? 5432),
  user: process.env.PGUSER ?? "postgres",
  database: process.env.PGDATABASE ?? "test",
};
const databaseUrl = `postgresql://${database.user}@${database.host}:${database.port}/${database.database}`;
const version = JSON.parse(readFileSync(new URL("node_modules/@dbos-inc/dbos-sdk/package.json", import.meta.url), "utf8")).version;

const count = async (object) => ({ id: object.id, count: object.count + 1 });
const workflow = DBOS.registerWorkflow(
  async (object) => {
    const a = await DBOS.runStep(() => count(object), { name: "a" });
    const b = await DBOS.runStep(() => count(a), { name: "b" });
    return await DBOS.runStep(() => count(b), { name: "c" });
  },
  { name: "bench" },
);

function checked(id, result) {
  if (result.count !== 3) throw new Error(`dbos: run ${id} ended with count ${result.count}, not 3`);
}

async function open() {
  const schema = `bench_dbos_${randomBytes(4).toString("hex")}`;
  DBOS.setConfig({
    name: "stepwise-bench",
    systemDatabaseUrl: databaseUrl,
    systemDatabaseSchemaName: schema,
    systemDatabasePoolSize: poolSize,
    logLevel: "warn",
  });
  await DBOS.launch();
  const start = (id) => DBOS.startWorkflow(workflow)({ id, count: 0 });
  return {
    async runAll(ids) {
      const handles = await Promise.all(ids.map(start));
      const results = await Promise.all(handles.map((h) => h.getResult()));
      results.forEach((result, i) => checked(ids[i], result));
    },
    async runOne(id) {
      const handle = await start(id);
      checked(id, await handle.getResult());
    },
    async close() {
      await DBOS.shutdown();
      const client = new pg.Client(database);
      await client.connect();
      try {
        await client.query(`DROP SCHEMA "${schema}" CASCADE`);
      } finally {
        await client.end();
      }
    },
  };
}

await runBenchmark({ system: "dbos", open, args: values, extra: () => ({ version, pool_size: poolSize }) });
