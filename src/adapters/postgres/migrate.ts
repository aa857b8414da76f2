import type { PgPool, PgQueryable } from "./driver.js";
import { schemaSql, schemaVersion } from "./schema.js";
import { derivedIndexNames, tables, type Tables } from "./tables.js";

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
    await mendFoldedIndexNames(client, t);
    await client.query(schemaSql(t));
    await client.query("COMMIT");
  } catch (err) {
    await client.query("ROLLBACK").catch(() => {});
    throw err;
  } finally {
    client.release();
  }
}

/**
 * Renames the indexes an earlier stepwise made for a prefix with capitals, before it quoted index
 * names: PostgreSQL folded them to lower case ("Ab_" got "ab_records_unfinished"). Left so, the
 * quoted names of today would make each index a second time, and a prefix spelt in lower case
 * ("ab_") in the same schema would find its names taken and get none, its unique index of
 * unfinished runs included. Each folded name that belongs to a table of another spelling is given
 * back its quoted name, or dropped where that one exists already. Only the spellings of this prefix
 * are looked at.
 */
async function mendFoldedIndexNames(client: PgQueryable, t: Tables): Promise<void> {
  const folded = derivedIndexNames.map((name) => (t.prefix + name).toLowerCase());
  const found = await client.query<{ indexname: string; tablename: string }>(
    "SELECT indexname, tablename FROM pg_indexes WHERE schemaname = $1 AND indexname = ANY($2::text[])",
    [t.schema, folded],
  );
  for (const { indexname, tablename } of found.rows) {
    const suffix = indexname.slice(t.prefix.length);
    const table = suffix.slice(0, suffix.indexOf("_"));
    if (!tablename.endsWith(table)) continue;
    const owner = tablename.slice(0, tablename.length - table.length);
    const quoted = owner + suffix;
    if (quoted === indexname || owner.toLowerCase() !== t.prefix.toLowerCase()) continue;
    const taken = await client.query("SELECT 1 FROM pg_indexes WHERE schemaname = $1 AND indexname = $2", [t.schema, quoted]);
    const index = `"${t.schema}"."${indexname}"`;
    await client.query(taken.rows.length > 0 ? `DROP INDEX ${index}` : `ALTER INDEX ${index} RENAME TO "${quoted}"`);
  }
}
