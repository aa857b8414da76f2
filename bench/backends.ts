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

export const backends: { readonly [name: string]: () => Promise<Backend> } = {
  memory: async () => ({ config: memory(), close: async () => {} }),
  postgres: postgresBackend,
};
