import { SchemaMissingError } from "../../errors.js";

/**
 * A value stepwise binds to a `?` placeholder. Bytes go as Buffers (mysql2 sends a Buffer as
 * binary, but a plain Uint8Array as an object); an array expands to a list, for `IN (?)`.
 */
export type MysqlValue = string | number | null | Buffer | MysqlValue[];

/**
 * The part of a mysql2 promise `Pool` or `PoolConnection` (`mysql2/promise`) that stepwise calls:
 * `query` (client-side placeholders) and `execute` (a server-side prepared statement, used where
 * a large object must travel as binary rather than as escaped text).
 */
export interface MysqlQueryable {
  query(sql: string, values?: MysqlValue[]): Promise<[unknown, unknown]>;
  execute(sql: string, values?: MysqlValue[]): Promise<[unknown, unknown]>;
}

/** A connection taken from the pool (mysql2's `PoolConnection`). */
export interface MysqlPoolConnection extends MysqlQueryable {
  /** Gives the connection back to the pool. */
  release(): void;
  /** Closes the connection and drops it from the pool; for connections that broke or hold session state. */
  destroy(): void;
  on(event: "error" | "end", listener: (err?: unknown) => void): unknown;
  off(event: "error" | "end", listener: (err?: unknown) => void): unknown;
}

/**
 * The part of a mysql2 promise `Pool` (`mysql2/promise`'s `createPool`) that stepwise calls. A real
 * pool satisfies it; stepwise never ends it.
 *
 * @example
 * ```ts
 * import { createPool } from "mysql2/promise";
 * const pool = createPool({ host: "127.0.0.1", user: "app", database: "app" });
 * const adapters = mysql({ pool });
 * ```
 */
export interface MysqlPool extends MysqlQueryable {
  getConnection(): Promise<MysqlPoolConnection>;
}

/** A row as mysql2 returns it, before stepwise reads its columns. */
export type Row = { readonly [column: string]: unknown };

/** What an INSERT, UPDATE or DELETE reports. */
export interface WriteResult {
  affectedRows: number;
}

/** The MySQL/MariaDB error numbers stepwise reacts to. */
export const ErrorNumber = {
  duplicateEntry: 1062,
  noSuchTable: 1146,
} as const;

/** The server's error number of a driver error, if it has one. */
export function errorNumber(err: unknown): number | undefined {
  const errno = typeof err === "object" && err !== null ? (err as { errno?: unknown }).errno : undefined;
  return typeof errno === "number" ? errno : undefined;
}

/** The name of the unique index a duplicate-entry error names (`PRIMARY`, `unfinished_foreign_id`, …). */
export function duplicateKeyName(err: unknown): string | undefined {
  if (errorNumber(err) !== ErrorNumber.duplicateEntry) return undefined;
  const message = String((err as { sqlMessage?: unknown; message?: unknown }).sqlMessage ?? (err as Error).message);
  // MariaDB says "for key 'name'", MySQL 8 "for key 'table.name'"; anchored at the end, since the
  // duplicate value quoted earlier in the message may contain anything.
  return /for key '(?:[^']*\.)?([^'.]+)'$/.exec(message)?.[1];
}

/**
 * Runs one statement, turning a missing table into a SchemaMissingError that names it. `table` is
 * the table the statement is about, used when the server's message names none.
 */
export async function run(db: MysqlQueryable, sql: string, values: MysqlValue[], table: string, prepared = false): Promise<unknown> {
  try {
    const [result] = prepared ? await db.execute(sql, values) : await db.query(sql, values);
    return result;
  } catch (err) {
    if (errorNumber(err) === ErrorNumber.noSuchTable) {
      const message = String((err as { sqlMessage?: unknown }).sqlMessage ?? "");
      const named = /Table '(?:[^'.]*\.)?([^'.]+)'/.exec(message)?.[1];
      throw new SchemaMissingError(named ?? table, { cause: err });
    }
    throw err;
  }
}

/** The rows of a SELECT. */
export async function select(db: MysqlQueryable, sql: string, values: MysqlValue[], table: string): Promise<Row[]> {
  const rows = await run(db, sql, values, table);
  return Array.isArray(rows) ? (rows as Row[]) : [];
}

/** The outcome of an INSERT, UPDATE or DELETE; `prepared` sends the values as binary (large objects). */
export async function write(db: MysqlQueryable, sql: string, values: MysqlValue[], table: string, prepared = false): Promise<WriteResult> {
  const result = (await run(db, sql, values, table, prepared)) as { affectedRows?: unknown };
  return { affectedRows: typeof result.affectedRows === "number" ? result.affectedRows : 0 };
}

/**
 * Runs `work` in one transaction on a connection of its own, committing if it resolves and rolling
 * back if it throws. A connection whose rollback fails is broken (or in an unknown state), so it is
 * destroyed rather than handed back to the pool.
 */
export async function inTransaction<T>(pool: MysqlPool, work: (connection: MysqlQueryable) => Promise<T>): Promise<T> {
  const connection = await pool.getConnection();
  let reusable = true;
  try {
    await connection.query("START TRANSACTION");
    const result = await work(connection);
    await connection.query("COMMIT");
    return result;
  } catch (err) {
    try {
      await connection.query("ROLLBACK");
    } catch {
      reusable = false;
    }
    throw err;
  } finally {
    if (reusable) connection.release();
    else connection.destroy();
  }
}
