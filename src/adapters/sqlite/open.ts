import { statSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, resolve } from "node:path";
import type { SqliteDatabase, SqliteDatabaseConstructor } from "./driver.js";

/**
 * Opens (creating if needed) the SQLite file at `path` with better-sqlite3. The directory must
 * exist: stepwise creates no directories, since a mistyped path would otherwise quietly start an
 * empty database somewhere unexpected.
 */
export function openDatabase(path: string, busyTimeoutMs: number): SqliteDatabase {
  if (path !== ":memory:" && path !== "") {
    const directory = dirname(resolve(path));
    let isDirectory: boolean;
    try {
      isDirectory = statSync(directory).isDirectory();
    } catch (err) {
      throw new Error(`sqlite: cannot open "${path}": the directory "${directory}" does not exist; create it first`, { cause: err });
    }
    if (!isDirectory) throw new Error(`sqlite: cannot open "${path}": "${directory}" is not a directory`);
  }
  const Database = loadBetterSqlite3();
  try {
    return new Database(path, { timeout: busyTimeoutMs });
  } catch (err) {
    throw new Error(`sqlite: cannot open "${path}": ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}

/**
 * Loads better-sqlite3 only when a file must be opened, so users of other adapters never need it.
 * `createRequire` rather than `import()`: better-sqlite3 is CommonJS, and loading it synchronously
 * lets `sqlite(path)` hand back ready adapters, as `memory()` does.
 */
function loadBetterSqlite3(): SqliteDatabaseConstructor {
  const require = createRequire(import.meta.url);
  let loaded: unknown;
  try {
    loaded = require("better-sqlite3");
  } catch (err) {
    const missing = typeof err === "object" && err !== null && (err as { code?: unknown }).code === "MODULE_NOT_FOUND";
    if (missing && err instanceof Error && err.message.includes("'better-sqlite3'")) {
      throw new Error(
        "stepwise/sqlite: opening a database file needs the better-sqlite3 package: npm install better-sqlite3@12 " +
          "(or pass your own better-sqlite3 Database to sqlite())",
        { cause: err },
      );
    }
    throw new Error(`stepwise/sqlite: better-sqlite3 is installed but could not be loaded: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  // The one cast: a module loaded by name has no static type. Its default export is the Database class.
  return loaded as SqliteDatabaseConstructor;
}
