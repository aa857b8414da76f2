import { randomBytes } from "node:crypto";
import pg from "pg";
import { migrate } from "stepwise/postgres";

/** A pool on the test database; end it when done. */
export function testPool(options: pg.PoolConfig = {}): pg.Pool {
  return new pg.Pool({
    host: process.env.PGHOST ?? "127.0.0.1",
    port: Number(process.env.PGPORT ?? 5432),
    user: process.env.PGUSER ?? "postgres",
    database: process.env.PGDATABASE ?? "test",
    ...options,
  });
}

/** A pool on the test database and a fresh schema with stepwise's tables, dropped by `drop()`. */
export async function freshSchema(options: { max?: number } = {}): Promise<{ pool: pg.Pool; schema: string; drop(): Promise<void> }> {
  const pool = testPool({ max: options.max ?? 20 });
  const schema = `sw_${randomBytes(6).toString("hex")}`;
  await migrate(pool, { schema });
  return {
    pool,
    schema,
    drop: async () => {
      await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await pool.end();
    },
  };
}
