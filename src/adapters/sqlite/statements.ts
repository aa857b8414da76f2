import type { SqliteDatabase, SqliteRunResult, SqliteStatement, SqliteValue } from "./driver.js";
import { translateError } from "./errors.js";

/** A row as better-sqlite3 returns it, before stepwise reads its columns. */
export type Row = { readonly [column: string]: unknown };

/** More distinct statements than the adapters use, bounding the ones `list` builds per filter shape. */
const capacity = 256;

/**
 * Runs SQL on one database, preparing each text once (SQLite then skips parsing and planning) and
 * turning driver errors into the ones users act on (see `translateError`). Statements are
 * prepared on first use, so an adapter made before `migrate` only fails when it is used.
 */
export class Statements {
  readonly db: SqliteDatabase;
  readonly #cache = new Map<string, SqliteStatement>();

  constructor(db: SqliteDatabase) {
    this.db = db;
  }

  /** Runs a statement that writes. */
  run(sql: string, ...params: SqliteValue[]): SqliteRunResult {
    try {
      return this.#statement(sql).run(...params);
    } catch (err) {
      throw translateError(err, this.db.name);
    }
  }

  /** The first row, or undefined. */
  get(sql: string, ...params: SqliteValue[]): Row | undefined {
    try {
      return this.#statement(sql).get(...params) as Row | undefined;
    } catch (err) {
      throw translateError(err, this.db.name);
    }
  }

  /** Every row. */
  all(sql: string, ...params: SqliteValue[]): Row[] {
    try {
      return this.#statement(sql).all(...params) as Row[];
    } catch (err) {
      throw translateError(err, this.db.name);
    }
  }

  #statement(sql: string): SqliteStatement {
    let statement = this.#cache.get(sql);
    if (statement === undefined) {
      statement = this.db.prepare(sql);
      if (this.#cache.size >= capacity) {
        const oldest = this.#cache.keys().next();
        if (!oldest.done) this.#cache.delete(oldest.value);
      }
      this.#cache.set(sql, statement);
    }
    return statement;
  }
}

/** An INTEGER column as a number: better-sqlite3 hands out a bigint when the database has safeIntegers on. */
export function integer(value: unknown): number | undefined {
  if (typeof value === "number") return Number.isSafeInteger(value) ? value : undefined;
  if (typeof value === "bigint") return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : undefined;
  return undefined;
}
