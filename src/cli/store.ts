import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { postgres, type PgPool } from "../adapters/postgres/index.js";
import { sqlite } from "../adapters/sqlite/index.js";
import { InvalidOptionError } from "../errors.js";
import type { RecordStore } from "../record.js";

/** The options that name the store, common to every command. */
export interface StoreOptions {
  sqlite?: string;
  postgres?: string;
  schema?: string;
}

/** A record store the CLI opened, and how to let go of everything it opened for it. */
export interface OpenedStore {
  recordStore: RecordStore;
  close(): Promise<void>;
}

/** The slice of `pg` the CLI calls to open a pool from a connection URL. */
interface PgModule {
  Pool: new (config: { connectionString: string; max: number }) => PgPool & {
    end(): Promise<void>;
    on(event: "error", listener: (err: Error) => void): unknown;
  };
}

/**
 * Opens the store the options name: an existing SQLite file (never a new one: a mistyped path must
 * not look like an empty store) or a PostgreSQL database by URL, in `schema`. Nothing is migrated
 * on PostgreSQL; a schema without stepwise's tables fails at the first read with SCHEMA_MISSING.
 */
export async function openStore(options: StoreOptions): Promise<OpenedStore> {
  if (options.sqlite !== undefined) {
    if (options.schema !== undefined) throw new InvalidOptionError("schema", "--schema applies to --postgres only");
    if (!existsSync(options.sqlite)) throw new InvalidOptionError("sqlite", `no SQLite file at "${options.sqlite}"`);
    const adapters = sqlite(options.sqlite);
    return { recordStore: adapters.recordStore, close: adapters.close };
  }
  if (options.postgres !== undefined) {
    const pg = loadPg();
    // A few connections: the CLI asks one thing at a time, the web UI a few at once.
    const pool = new pg.Pool({ connectionString: options.postgres, max: 4 });
    // An idle connection the server drops emits 'error' on the pool, which would end the process
    // when nobody listens; the next query reports the problem instead.
    pool.on("error", () => {});
    const adapters = postgres({ pool, schema: options.schema });
    return {
      recordStore: adapters.recordStore,
      close: async () => {
        await adapters.close();
        await pool.end();
      },
    };
  }
  throw new InvalidOptionError("store", "name the store with --sqlite FILE or --postgres URL");
}

/** Opens the store, hands it to `use`, and closes it however `use` ends. */
export async function withStore<T>(options: StoreOptions, use: (recordStore: RecordStore) => Promise<T>): Promise<T> {
  const store = await openStore(options);
  try {
    return await use(store.recordStore);
  } finally {
    await store.close();
  }
}

/** Loads `pg`, an optional peer dependency, only when a PostgreSQL store is asked for. */
function loadPg(): PgModule {
  const require = createRequire(import.meta.url);
  try {
    // The one cast: a module loaded by name has no static type.
    return require("pg") as PgModule;
  } catch (err) {
    throw new InvalidOptionError("postgres", "--postgres needs the pg package: npm install pg", { cause: err });
  }
}
