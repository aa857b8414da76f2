import { InvalidOptionError } from "../../errors.js";
import { toText } from "./columns.js";
import { errorNumber, run, select, type MysqlQueryable } from "./driver.js";
import { defaultPrefix, mysqlTables, schemaStatements, schemaVersion, timeoutIndexColumnSql, traceColumnsSql, workflowVersionColumnSql } from "./schema.js";

/** ER_DUP_FIELDNAME: a concurrent migrate added the column first. */
const duplicateColumn = 1060;

/** Options of {@link migrate}. */
export interface MysqlMigrateOptions {
  /** Prefix of every table name; letters, digits and underscores. Default `"stepwise_"`. */
  prefix?: string;
}

/**
 * Creates stepwise's tables (records, outbox, timeouts, events, cursors and their bookkeeping) in
 * the pool's database and records the layout version in `<prefix>schema_version`. Idempotent:
 * running it again, or from several processes at once, changes nothing that exists. Rejects when
 * the database holds a newer layout than this version of stepwise knows.
 *
 * The same statements ship as `sql/mysql.sql` (default prefix) and come from `schemaSql(prefix)`,
 * for teams that run migrations with their own tool.
 *
 * @example
 * ```ts
 * import { createPool } from "mysql2/promise";
 * import { migrate, mysql } from "stepwise/mysql";
 * const pool = createPool({ host: "127.0.0.1", user: "app", database: "app" });
 * await migrate(pool);
 * const wf = b.build(mysql({ pool }));
 * ```
 */
export async function migrate(pool: MysqlQueryable, options: MysqlMigrateOptions = {}): Promise<void> {
  const prefix = options.prefix ?? defaultPrefix;
  const tables = mysqlTables(prefix);
  const mark = await tableComment(pool, tables.records);
  const markedPrefix = mark === undefined ? undefined : prefixMark.exec(mark)?.[1];
  if (markedPrefix !== undefined && markedPrefix !== prefix) {
    throw new InvalidOptionError(
      "prefix",
      `mysql: table "${tables.records}" holds stepwise's runs of prefix "${markedPrefix}", and this server does not tell the case of table names apart ` +
        `(lower_case_table_names), so prefix "${prefix}" would share its tables: give "${markedPrefix}" to use them, or a prefix that differs in more than case`,
    );
  }
  for (const statement of schemaStatements(prefix)) await run(pool, statement, [], tables.schemaVersion);
  const [row] = await select(pool, `SELECT MAX(version) AS version FROM \`${tables.schemaVersion}\``, [], tables.schemaVersion);
  const found = Number(row?.version ?? 0);
  if (found > schemaVersion) {
    throw new Error(
      `mysql: the tables with prefix "${prefix}" have layout version ${found}, newer than the ${schemaVersion} this version of stepwise knows: upgrade stepwise`,
    );
  }
  // Layout 1 to 2: which of a status's timeouts a row is. Layout 2 to 3: the run's trace context.
  // Layout 3 to 4: the version of the workflow definition that wrote the run.
  await addColumnUnlessPresent(pool, tables.timeouts, "timeout_index", timeoutIndexColumnSql(prefix));
  await addColumnUnlessPresent(pool, tables.records, "trace_parent", traceColumnsSql(prefix));
  await addColumnUnlessPresent(pool, tables.records, "workflow_version", workflowVersionColumnSql(prefix));
  // Tables made before the mark, or just now, get it; a comment of the user's own is left alone.
  if (!mark) await run(pool, `ALTER TABLE \`${tables.records}\` COMMENT = 'stepwise tables, prefix "${prefix}"'`, [], tables.records);
}

/**
 * The mark migrate leaves on the records table: the prefix as it was spelt. Where the server ignores
 * the case of table names (lower_case_table_names 1 or 2: Windows and macOS by default, some managed
 * services), prefixes that differ only in case name the same tables; the mark tells them apart.
 */
const prefixMark = /^stepwise tables, prefix "([A-Za-z0-9_]*)"$/;

/** The table's comment, as the server resolves its name; undefined when there is no such table. */
async function tableComment(pool: MysqlQueryable, table: string): Promise<string | undefined> {
  const [row] = await select(pool, "SELECT table_comment AS c FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = ?", [table], table);
  return row === undefined ? undefined : (toText(row.c) ?? "");
}

/**
 * Runs `sql`, an ALTER TABLE adding `column` to `table`, unless the table has the column: MySQL 8
 * has no ADD COLUMN IF NOT EXISTS, and a concurrent migrate may add it first.
 */
async function addColumnUnlessPresent(pool: MysqlQueryable, table: string, column: string, sql: string): Promise<void> {
  const found = await select(
    pool,
    "SELECT 1 AS found FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = ? AND column_name = ?",
    [table, column],
    table,
  );
  if (found.length > 0) return;
  try {
    await run(pool, sql, [], table);
  } catch (err) {
    if (errorNumber(err) !== duplicateColumn) throw err;
  }
}
