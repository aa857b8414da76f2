import { InvalidOptionError } from "../../errors.js";
import type { SqliteDatabase } from "./driver.js";
import { translateError } from "./errors.js";
import { defaultPrefix, schemaSql, schemaVersion, sqliteTables, timeoutIndexColumnSql, traceColumnsSql, workflowVersionColumnSql, type SqliteTables } from "./schema.js";
import { integer } from "./statements.js";

/** Options of {@link migrate}. */
export interface SqliteMigrateOptions {
  /** Prefix of every table name; letters, digits and underscores. Default `"stepwise_"`. */
  prefix?: string;
}

/**
 * Creates stepwise's tables and indexes in the database if they are missing, and records the
 * layout version in `<prefix>schema_version`. Synchronous, like better-sqlite3; idempotent, and safe
 * to run from several processes on one file (it runs in one BEGIN IMMEDIATE transaction).
 *
 * Throws, changing nothing, when the file holds a newer layout than this version of stepwise knows,
 * or when it is not a SQLite database at all. `sqlite(pathOrDb)` runs it for you.
 *
 * @example
 * ```ts
 * import Database from "better-sqlite3";
 * import { migrate, SqliteRecordStore } from "stepwise/sqlite";
 * const db = new Database("app.db");
 * migrate(db);
 * const recordStore = new SqliteRecordStore({ db });
 * ```
 */
export function migrate(db: SqliteDatabase, options: SqliteMigrateOptions = {}): void {
  const prefix = options.prefix ?? defaultPrefix;
  const tables = sqliteTables(prefix);
  try {
    // First without a write lock, so a file we must refuse is never even locked for writing;
    // then again inside the transaction, in case another process migrated in between.
    checkSchemaVersion(db, tables);
    checkPrefixSpelling(db, tables);
    db.transaction(() => {
      checkSchemaVersion(db, tables);
      checkPrefixSpelling(db, tables);
      db.exec(schemaSql(prefix));
      // Layout 1 to 2: which of a status's timeouts a row is. Layout 2 to 3: the run's trace context.
      // Layout 3 to 4: the version of the workflow definition that wrote the run.
      addColumnsUnlessPresent(db, tables.timeouts, "timeout_index", [timeoutIndexColumnSql(tables.prefix)]);
      addColumnsUnlessPresent(db, tables.records, "trace_parent", traceColumnsSql(tables.prefix));
      addColumnsUnlessPresent(db, tables.records, "workflow_version", [workflowVersionColumnSql(tables.prefix)]);
    }).immediate();
  } catch (err) {
    throw translateError(err, db.name);
  }
}

/**
 * Reads the layout version stored in the file (0 when stepwise's tables are not there) and throws
 * if it is newer than this stepwise's. Only reads: a file that fails the check is left as it was.
 */
export function checkSchemaVersion(db: SqliteDatabase, tables: SqliteTables): void {
  const found = storedSchemaVersion(db, tables);
  if (found > schemaVersion) {
    throw new Error(
      `sqlite: "${db.name}" holds stepwise tables (prefix "${tables.prefix}") of layout version ${found}, newer than the ` +
        `version ${schemaVersion} this stepwise knows: upgrade stepwise. The file was not changed.`,
    );
  }
}

/**
 * Refuses a prefix whose tables are in the file under another spelling ("Foo_" for "foo_"): SQLite
 * ignores the case of names, so the two would share tables, runs, events and roles, silently.
 * Only reads. A prefix keeps working as it was first spelt.
 */
export function checkPrefixSpelling(db: SqliteDatabase, tables: SqliteTables): void {
  const { prefix, ...names } = tables;
  const find = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name = ? COLLATE NOCASE");
  for (const name of Object.values(names)) {
    const found = (find.get(name) as { name?: unknown } | undefined)?.name;
    if (typeof found !== "string" || found === name) continue;
    const spelt = found.slice(0, prefix.length);
    throw new InvalidOptionError(
      "prefix",
      `sqlite: "${db.name}" holds stepwise tables of prefix "${spelt}", and SQLite ignores the case of table names, so prefix "${prefix}" would share them: ` +
        `give "${spelt}" to use those tables, or a prefix that differs in more than case. The file was not changed.`,
    );
  }
}

/** Runs `statements`, which add `column` (and maybe others) to `table`, unless the table has it: SQLite has no ADD COLUMN IF NOT EXISTS. */
function addColumnsUnlessPresent(db: SqliteDatabase, table: string, column: string, statements: readonly string[]): void {
  const columns = db.prepare(`SELECT name FROM pragma_table_info('${table}')`).all() as { name: unknown }[];
  if (columns.some((c) => c.name === column)) return;
  for (const statement of statements) db.exec(statement);
}

function storedSchemaVersion(db: SqliteDatabase, tables: SqliteTables): number {
  const exists = db.prepare("SELECT 1 AS found FROM sqlite_master WHERE type = 'table' AND name = ?").get(tables.schemaVersion);
  if (exists === undefined) return 0;
  const row = db.prepare(`SELECT MAX(version) AS version FROM ${tables.schemaVersion}`).get() as { version?: unknown } | undefined;
  return integer(row?.version) ?? 0;
}
