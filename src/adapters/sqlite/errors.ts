import { SchemaMissingError } from "../../errors.js";

/** The extended result code better-sqlite3 puts on its errors (`SQLITE_CONSTRAINT_UNIQUE`, …). */
export function sqliteCode(err: unknown): string | undefined {
  const code = typeof err === "object" && err !== null ? (err as { code?: unknown }).code : undefined;
  return typeof code === "string" ? code : undefined;
}

/** Whether `err` is SQLite refusing a duplicate in a unique index or primary key. */
export function isUniqueViolation(err: unknown): boolean {
  const code = sqliteCode(err);
  return code === "SQLITE_CONSTRAINT_UNIQUE" || code === "SQLITE_CONSTRAINT_PRIMARYKEY";
}

/** The error for a file that is not a SQLite database, naming it. */
export function notADatabase(path: string, cause: unknown): Error {
  return new Error(`sqlite: "${path}" is not a SQLite database (or is encrypted or damaged); stepwise did not change it`, { cause });
}

/**
 * A driver error as the error it means to a user: a missing table is a SchemaMissingError naming
 * it (run migrate), a file that is not a database says so with its path; anything else unchanged.
 */
export function translateError(err: unknown, path: string): unknown {
  const code = sqliteCode(err);
  if (code === "SQLITE_NOTADB") return notADatabase(path, err);
  if (code === "SQLITE_ERROR" && err instanceof Error) {
    const missing = /^no such table: (?:\w+\.)?(\w+)/.exec(err.message);
    if (missing?.[1] !== undefined) return new SchemaMissingError(missing[1], { cause: err });
  }
  return err;
}
