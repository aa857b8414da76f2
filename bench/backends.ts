import { randomBytes } from "node:crypto";
import type { BuildConfig } from "stepwise";
import { memory } from "stepwise/memory";

/** The adapters a benchmark run builds its workflow on, and how to let go of them afterwards. */
export interface Backend {
  config: Pick<BuildConfig<unknown>, "eventStreamer" | "recordStore" | "roleScheduler" | "timeoutStore" | "outbox">;
  close(): Promise<void>;
}

/** Each benchmark run gets its own schema, dropped afterwards. */
async function postgresBackend(): Promise<Backend> {
  const { default: pg } = await import("pg");
  const { migrate, postgres } = await import("stepwise/postgres");
  const pool = new pg.Pool({
    host: process.env.PGHOST ?? "127.0.0.1",
    user: process.env.PGUSER ?? "postgres",
    database: process.env.PGDATABASE ?? "test",
    max: 20,
  });
  const schema = `bench_${randomBytes(4).toString("hex")}`;
  await migrate(pool, { schema });
  return {
    config: postgres({ pool, schema }),
    close: async () => {
      await pool.query(`DROP SCHEMA "${schema}" CASCADE`);
      await pool.end();
    },
  };
}

/** Each benchmark run gets its own table prefix, dropped afterwards. */
async function mysqlBackend(): Promise<Backend> {
  const { createPool } = await import("mysql2/promise");
  const { migrate, mysql } = await import("stepwise/mysql");
  const pool = createPool({ host: process.env.MYSQL_HOST ?? "127.0.0.1", user: "root", database: "test", connectionLimit: 20 });
  const prefix = `bench_${randomBytes(4).toString("hex")}_`;
  await migrate(pool, { prefix });
  const adapters = mysql({ pool, prefix });
  return {
    config: adapters,
    close: async () => {
      await adapters.roleScheduler.close();
      await adapters.eventStreamer.close();
      const [rows] = await pool.query(`SHOW TABLES LIKE '${prefix}%'`);
      for (const row of rows as { [column: string]: string }[]) await pool.query(`DROP TABLE \`${Object.values(row)[0]}\``);
      await pool.end();
    },
  };
}

export const backends: { readonly [name: string]: () => Promise<Backend> } = {
  memory: async () => ({ config: memory(), close: async () => {} }),
  postgres: postgresBackend,
  mysql: mysqlBackend,
};
