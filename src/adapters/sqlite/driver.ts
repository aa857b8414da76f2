// The slice of better-sqlite3 (v12) that the SQLite adapters call. A real `Database` satisfies
// these types, and better-sqlite3 is never imported here, so it stays an optional peer
// dependency: only `sqlite(path)` loads it, to open a file (see `open.ts`).

/**
 * A value bound to a `?` placeholder. Bytes go in as a Uint8Array (a Buffer is one) and come back
 * as a Buffer. No null: stepwise binds none, and without it better-sqlite3's own Statement type,
 * which also accepts one object of named parameters, fits this one.
 */
export type SqliteValue = string | number | bigint | Uint8Array;

/** What a statement that writes reports. */
export interface SqliteRunResult {
  changes: number;
  lastInsertRowid: number | bigint;
}

/** A prepared statement (better-sqlite3's `Statement`). Rows come back as plain objects keyed by column. */
export interface SqliteStatement {
  run(...params: SqliteValue[]): SqliteRunResult;
  get(...params: SqliteValue[]): unknown;
  all(...params: SqliteValue[]): unknown[];
}

/**
 * A function wrapped by `Database.transaction`: calling it runs the function between BEGIN and
 * COMMIT (ROLLBACK when it throws); `immediate` begins with BEGIN IMMEDIATE, taking the write lock
 * first, so a transaction that reads before it writes never fails to upgrade its lock.
 */
export interface SqliteTransaction<A extends unknown[], R> {
  (...args: A): R;
  immediate(...args: A): R;
}

/**
 * The part of a better-sqlite3 `Database` that stepwise calls. Pass your own `new Database(file)`
 * to `sqlite(db)` or to an adapter's constructor; stepwise never closes a database it was given.
 *
 * @example
 * ```ts
 * import Database from "better-sqlite3";
 * import { sqlite } from "stepwise/sqlite";
 * const db = new Database("app.db");
 * db.pragma("journal_mode = WAL");
 * const wf = b.build(sqlite(db));
 * ```
 */
export interface SqliteDatabase {
  /** The file name the database was opened with (`":memory:"` for an in-memory one). */
  readonly name: string;
  readonly open: boolean;
  readonly inTransaction: boolean;
  prepare(source: string): SqliteStatement;
  exec(source: string): unknown;
  transaction<A extends unknown[], R>(fn: (...args: A) => R): SqliteTransaction<A, R>;
  pragma(source: string, options?: { simple?: boolean }): unknown;
  close(): unknown;
}

/** better-sqlite3's default export, as `open.ts` uses it. */
export interface SqliteDatabaseConstructor {
  new (filename: string, options?: { timeout?: number; fileMustExist?: boolean }): SqliteDatabase;
}
