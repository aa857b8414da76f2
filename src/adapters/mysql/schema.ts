import { InvalidOptionError } from "../../errors.js";
/** The table prefix used when none is given. */
export const defaultPrefix = "stepwise_";

/** The layout version {@link schemaStatements} creates; `migrate` records it in `<prefix>schema_version`. */
export const schemaVersion = 4;

/** The names (unquoted) of stepwise's tables for one prefix. */
export interface MysqlTables {
  records: string;
  outbox: string;
  timeouts: string;
  events: string;
  /** One row that every transaction writing to `events` locks first: see `event-log.ts`. */
  eventsLock: string;
  cursors: string;
  /** The role schedulers awaiting roles: see `role-scheduler.ts`. */
  roleMembers: string;
  schemaVersion: string;
}

/** The longest suffix below, so that every table name stays within MySQL's 64 characters. */
const longestSuffix = "schema_version".length;

/**
 * The table names for `prefix`. A prefix is letters, digits and underscores only (it is written
 * into SQL), at most 50 characters.
 */
export function mysqlTables(prefix: string = defaultPrefix): MysqlTables {
  if (!/^[A-Za-z0-9_]*$/.test(prefix) || prefix.length + longestSuffix > 64) {
    throw new InvalidOptionError(
      "prefix",
      `mysql: the table prefix must be letters, digits and underscores, at most ${64 - longestSuffix} characters; got ${JSON.stringify(prefix)}`,
    );
  }
  return {
    records: `${prefix}records`,
    outbox: `${prefix}outbox`,
    timeouts: `${prefix}timeouts`,
    events: `${prefix}events`,
    eventsLock: `${prefix}events_lock`,
    cursors: `${prefix}cursors`,
    roleMembers: `${prefix}role_members`,
    schemaVersion: `${prefix}schema_version`,
  };
}

// Identifier columns (names, ids, topics) are VARBINARY: compared byte for byte, as the memory
// adapter compares strings. A text collation would make "Order-1" equal "order-1", or (PAD SPACE
// collations, the only binary ones MariaDB and MySQL share) "a" equal "a ", so two foreign ids
// would collide in the unique index. Sizes are in bytes of UTF-8.
//
// Times are DATETIME(3) holding UTC; stepwise writes and reads them as text, so the session's
// time_zone and the pool's timezone option play no part.
const tableOptions = "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin";

/**
 * The statements that create stepwise's tables for `prefix`, each safe to run again and to run
 * concurrently (CREATE TABLE IF NOT EXISTS, INSERT IGNORE).
 */
export function schemaStatements(prefix: string = defaultPrefix): string[] {
  const t = mysqlTables(prefix);
  return [
    // unfinished_foreign_id is the foreign id while the run is not finished (run states 4 Cancelled,
    // 5 Completed, 6 DataDeleted, 7 RequestedDataDeleted) and NULL after. A unique index allows any
    // number of NULLs, so it holds at most one unfinished run per workflow and foreign id: the
    // check behind WorkflowInProgressError, made by the INSERT itself, so concurrent triggers
    // cannot both pass it. seq is insertion order, the tie-break of list and the order of latest().
    `CREATE TABLE IF NOT EXISTS \`${t.records}\` (
  run_id VARBINARY(255) NOT NULL,
  seq BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  workflow_name VARBINARY(255) NOT NULL,
  foreign_id VARBINARY(512) NOT NULL,
  run_state TINYINT UNSIGNED NOT NULL,
  status INT NOT NULL,
  object LONGBLOB NOT NULL,
  created_at DATETIME(3) NOT NULL,
  updated_at DATETIME(3) NOT NULL,
  version INT UNSIGNED NOT NULL,
  run_state_reason TEXT NOT NULL,
  status_description TEXT NOT NULL,
  trace_origin TEXT NOT NULL,
  trace_parent TEXT NOT NULL,
  trace_state TEXT NOT NULL,
  workflow_version INT UNSIGNED NOT NULL DEFAULT 1,
  unfinished_foreign_id VARBINARY(512) GENERATED ALWAYS AS (IF(run_state IN (4, 5, 6, 7), NULL, foreign_id)) STORED,
  PRIMARY KEY (run_id),
  UNIQUE KEY seq (seq),
  UNIQUE KEY unfinished_foreign_id (workflow_name, unfinished_foreign_id),
  KEY by_foreign_id (workflow_name, foreign_id, seq),
  KEY by_created (workflow_name, created_at, seq),
  KEY by_status (workflow_name, status, created_at, seq),
  KEY by_run_state (workflow_name, run_state, created_at, seq),
  KEY by_created_all (created_at, seq)
) ${tableOptions}`,
    `CREATE TABLE IF NOT EXISTS \`${t.outbox}\` (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  workflow_name VARBINARY(255) NOT NULL,
  foreign_id VARBINARY(512) NOT NULL,
  type INT NOT NULL,
  headers TEXT NOT NULL,
  created_at DATETIME(3) NOT NULL,
  PRIMARY KEY (id),
  KEY by_workflow (workflow_name, id)
) ${tableOptions}`,
    `CREATE TABLE IF NOT EXISTS \`${t.timeouts}\` (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  workflow_name VARBINARY(255) NOT NULL,
  foreign_id VARBINARY(512) NOT NULL,
  run_id VARBINARY(255) NOT NULL,
  status INT NOT NULL,
  timeout_index INT NOT NULL DEFAULT 0,
  expire_at DATETIME(3) NOT NULL,
  created_at DATETIME(3) NOT NULL,
  PRIMARY KEY (id),
  KEY by_expiry (workflow_name, expire_at, id),
  KEY by_status_expiry (workflow_name, status, expire_at, id)
) ${tableOptions}`,
    `CREATE TABLE IF NOT EXISTS \`${t.events}\` (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  topic VARBINARY(512) NOT NULL,
  foreign_id VARBINARY(512) NOT NULL,
  type INT NOT NULL,
  headers TEXT NOT NULL,
  created_at DATETIME(3) NOT NULL,
  PRIMARY KEY (id),
  KEY by_topic (topic, id)
) ${tableOptions}`,
    // Every transaction that writes to the events table locks this row first (SELECT … FOR UPDATE),
    // so they commit in the order of their event ids and readers never skip one.
    `CREATE TABLE IF NOT EXISTS \`${t.eventsLock}\` (
  id TINYINT UNSIGNED NOT NULL,
  PRIMARY KEY (id)
) ${tableOptions}`,
    `INSERT IGNORE INTO \`${t.eventsLock}\` (id) VALUES (1)`,
    // A receiver name's position on a topic: the id of the last event it acked.
    `CREATE TABLE IF NOT EXISTS \`${t.cursors}\` (
  topic VARBINARY(512) NOT NULL,
  name VARBINARY(512) NOT NULL,
  position BIGINT UNSIGNED NOT NULL,
  updated_at DATETIME(3) NOT NULL,
  PRIMARY KEY (topic, name)
) ${tableOptions}`,
    // A role scheduler awaiting roles, and which: live while its session holds the user lock
    // lock_name, so a row outlives a process that died only until someone sees that lock free.
    `CREATE TABLE IF NOT EXISTS \`${t.roleMembers}\` (
  member VARBINARY(64) NOT NULL,
  lock_name VARBINARY(64) NOT NULL,
  roles MEDIUMTEXT NOT NULL,
  PRIMARY KEY (member)
) ${tableOptions}`,
    `CREATE TABLE IF NOT EXISTS \`${t.schemaVersion}\` (
  version INT UNSIGNED NOT NULL,
  applied_at DATETIME(3) NOT NULL,
  PRIMARY KEY (version)
) ${tableOptions}`,
    `INSERT IGNORE INTO \`${t.schemaVersion}\` (version, applied_at) VALUES (${schemaVersion}, UTC_TIMESTAMP(3))`,
  ];
}

/**
 * The whole DDL for `prefix` as one SQL script, for users who run their own migrations; the
 * package ships it for the default prefix as `sql/mysql.sql`. Running it is what `migrate` does.
 *
 * @example
 * ```ts
 * import { writeFile } from "node:fs/promises";
 * import { schemaSql } from "stepwise/mysql";
 * await writeFile("migrations/0001_stepwise.sql", schemaSql("wf_"));
 * ```
 */
export function schemaSql(prefix: string = defaultPrefix): string {
  const header = [
    `-- stepwise tables for MySQL 8 and MariaDB (layout version ${schemaVersion}, table prefix "${prefix}").`,
    "-- Generated by schemaSql() in stepwise/mysql; migrate() runs the same statements.",
    "-- Every statement is idempotent and safe to run concurrently.",
    "-- Tables of layout 1 lack timeout_index; migrate() adds it with this statement (run it once, it is not idempotent):",
    `-- ${timeoutIndexColumnSql(prefix)};`,
    "-- Records tables of layouts 1 and 2 lack trace_parent and trace_state; migrate() adds them with (once, likewise):",
    `-- ${traceColumnsSql(prefix)};`,
    "-- Records tables of layouts 1 to 3 lack workflow_version; migrate() adds it with (once, likewise; their rows read as 1):",
    `-- ${workflowVersionColumnSql(prefix)};`,
  ].join("\n");
  return `${header}\n\n${schemaStatements(prefix).map((s) => `${s};\n`).join("\n")}`;
}

/**
 * Adds the column layout 2 gave the timeouts table (which of a status's timeouts a row is) to a
 * table of layout 1. Not idempotent: MySQL 8 has no ADD COLUMN IF NOT EXISTS, so `migrate` runs it
 * only when the column is missing.
 */
export function timeoutIndexColumnSql(prefix: string = defaultPrefix): string {
  return `ALTER TABLE \`${mysqlTables(prefix).timeouts}\` ADD COLUMN timeout_index INT NOT NULL DEFAULT 0 AFTER status`;
}

/**
 * Adds the columns layout 3 gave the records table (the W3C trace context of the span that wrote
 * each version, '' for none, which ALTER TABLE gives the rows already there) to a table of an
 * earlier layout. Not idempotent, so `migrate` runs it only when the columns are missing.
 */
export function traceColumnsSql(prefix: string = defaultPrefix): string {
  return `ALTER TABLE \`${mysqlTables(prefix).records}\` ADD COLUMN trace_parent TEXT NOT NULL AFTER trace_origin, ADD COLUMN trace_state TEXT NOT NULL AFTER trace_parent`;
}

/**
 * Adds the column layout 4 gave the records table (the version of the workflow definition that
 * wrote each run) to a table of an earlier layout, whose rows then read as version 1. Not
 * idempotent, so `migrate` runs it only when the column is missing.
 */
export function workflowVersionColumnSql(prefix: string = defaultPrefix): string {
  return `ALTER TABLE \`${mysqlTables(prefix).records}\` ADD COLUMN workflow_version INT UNSIGNED NOT NULL DEFAULT 1 AFTER trace_state`;
}
