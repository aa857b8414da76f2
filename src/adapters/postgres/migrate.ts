import type { PgPool } from "./driver.js";
import { schemaSql, schemaVersion } from "./schema.js";
import { tables } from "./tables.js";

/** Options of {@link migrate}. */
export interface MigrateOptions {
  /** Default "public"; created if missing. */
  schema?: string;
  /** Default "stepwise_". */
  prefix?: string;
}

/**
 * Creates the adapters' tables and indexes if they are missing. Safe to run on every start and
 * from several processes at once. Refuses a database whose tables come from a newer stepwise.
 *
 * ```ts
 * const pool = new pg.Pool({ connectionString });
 * await migrate(pool);
 * const wf = b.build(postgres({ pool }));
 * ```
 */
export async function migrate(pool: PgPool, options: MigrateOptions = {}): Promise<void> {
  const t = tables(options);
  const client = await pool.connect();
  try {
    await client.query("BEGIN");
    // One migration at a time: concurrent CREATE ... IF NOT EXISTS can still collide.
    await client.query("SELECT pg_advisory_xact_lock(hashtextextended('stepwise-migrate', 0))");
    await client.query(`CREATE SCHEMA IF NOT EXISTS "${t.schema}"`);
    const exists = await client.query<{ found: string | null }>("SELECT to_regclass($1)::text AS found", [`"${t.schema}"."${t.bare.schemaVersion}"`]);
    let found: number | null = null;
    if (exists.rows[0]?.found) {
      const existing = await client.query<{ version: number | null }>(`SELECT max(version) AS version FROM ${t.schemaVersion}`);
      found = existing.rows[0]?.version ?? null;
    }
    if (found !== null && found > schemaVersion) {
      throw new Error(`postgres: the database has stepwise schema version ${found}, newer than this stepwise's ${schemaVersion}; upgrade stepwise`);
    }
    await client.query(schemaSql(t));
    await client.query("COMMIT");
  } catch (err) {
    await client.query("ROLLBACK").catch(() => {});
    throw err;
  } finally {
    client.release();
  }
}
