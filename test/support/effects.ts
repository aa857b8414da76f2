// The side effects of the soak workflow's handlers (test/support/soak-workflow.ts), kept apart
// from stepwise's own tables and keys so that the soak can tell how often each was applied.
//
// Each handler applies its effect once per call, keyed by run id + handler, with the record
// version it was called on. A key seen before is one of two things:
// - a retry: the earlier call saw the same version, so its transition was never stored (the worker
//   died, or a fault failed the store, between the effect and the write). At-least-once delivery
//   allows this, and the version check keeps the stored run right.
// - a duplicate: the earlier call saw another version, so the handler ran again for a run whose
//   transition it had already stored. The engine promises this never happens.
// The first call's version stays, so the versions a run's handlers saw show whether its stored
// versions skip or repeat (see `versionGaps` in bench/soak.ts).
import type { Pool as MysqlPool } from "mysql2/promise";
import type pg from "pg";
import type { Redis } from "ioredis";
import type { SqliteDatabase } from "stepwise/sqlite";

/** One row of the effects: the version the first call saw, and how often the effect came again. */
export interface Effect {
  runId: string;
  handler: string;
  version: number;
  retries: number;
  duplicates: number;
}

/** Where the effects are kept. */
export interface Effects {
  /** Records that `handler` applied its effect for `runId`, called on record version `version`. */
  apply(runId: string, handler: string, version: number): Promise<void>;
  /** Every effect recorded. */
  all(): Promise<Effect[]>;
}

const table = "soak_effects";

/** Effects in a PostgreSQL table of `schema`, made if missing. */
export async function postgresEffects(pool: pg.Pool, schema: string): Promise<Effects> {
  const name = `"${schema}".${table}`;
  // Workers start together; PostgreSQL's CREATE TABLE IF NOT EXISTS is no guard against a
  // concurrent one, so the creators take turns (both statements run in one implicit transaction).
  await pool.query(
    `SELECT pg_advisory_xact_lock(hashtext('${schema}.${table}'));
     CREATE TABLE IF NOT EXISTS ${name} (run_id text, handler text, version int NOT NULL,
       retries int NOT NULL DEFAULT 0, duplicates int NOT NULL DEFAULT 0, PRIMARY KEY (run_id, handler))`,
  );
  return {
    apply: async (runId, handler, version) => {
      await pool.query(
        `INSERT INTO ${name} AS e (run_id, handler, version) VALUES ($1, $2, $3) ON CONFLICT (run_id, handler) DO UPDATE
           SET retries = e.retries + (e.version = EXCLUDED.version)::int, duplicates = e.duplicates + (e.version <> EXCLUDED.version)::int`,
        [runId, handler, version],
      );
    },
    all: async () =>
      (await pool.query<Effect>(`SELECT run_id AS "runId", handler, version, retries, duplicates FROM ${name}`)).rows,
  };
}

/** Effects in a table of the SQLite database `db`, made if missing. */
export function sqliteEffects(db: SqliteDatabase): Effects {
  db.exec(
    `CREATE TABLE IF NOT EXISTS ${table} (run_id TEXT, handler TEXT, version INTEGER NOT NULL,
       retries INTEGER NOT NULL DEFAULT 0, duplicates INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (run_id, handler))`,
  );
  const insert = db.prepare(
    `INSERT INTO ${table} (run_id, handler, version) VALUES (?, ?, ?) ON CONFLICT (run_id, handler) DO UPDATE
       SET retries = retries + (version = excluded.version), duplicates = duplicates + (version <> excluded.version)`,
  );
  const select = db.prepare(`SELECT run_id AS runId, handler, version, retries, duplicates FROM ${table}`);
  return {
    apply: async (runId, handler, version) => {
      insert.run(runId, handler, version);
    },
    all: async () => select.all() as Effect[],
  };
}

/** Effects in a MariaDB/MySQL table, made if missing. */
export async function mysqlEffects(pool: MysqlPool, prefix: string): Promise<Effects> {
  const name = `${prefix}${table}`;
  await pool.query(
    `CREATE TABLE IF NOT EXISTS ${name} (run_id VARCHAR(64), handler VARCHAR(32), version INT NOT NULL,
       retries INT NOT NULL DEFAULT 0, duplicates INT NOT NULL DEFAULT 0, PRIMARY KEY (run_id, handler))`,
  );
  return {
    apply: async (runId, handler, version) => {
      // MySQL assigns left to right; `version` itself is never assigned, so both read the stored one.
      await pool.query(
        `INSERT INTO ${name} (run_id, handler, version) VALUES (?, ?, ?) ON DUPLICATE KEY UPDATE
           retries = retries + (version = VALUES(version)), duplicates = duplicates + (version <> VALUES(version))`,
        [runId, handler, version],
      );
    },
    all: async () => {
      const [rows] = await pool.query(`SELECT run_id AS runId, handler, version, retries, duplicates FROM ${name}`);
      return (rows as Effect[]).map((r) => ({ ...r, version: Number(r.version), retries: Number(r.retries), duplicates: Number(r.duplicates) }));
    },
  };
}

/** Effects in one Redis hash under `prefix`: HSETNX tells a first application from a later one. */
export function redisEffects(client: Redis, prefix: string): Effects {
  const key = `${prefix}${table}`;
  // One script, so that a connection killed between the check and the count cannot split them.
  const script = `
    if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 1 then return 0 end
    local kind = redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] and ':retries' or ':duplicates'
    redis.call('HINCRBY', KEYS[1], ARGV[1] .. kind, 1)
    return 1`;
  return {
    apply: async (runId, handler, version) => {
      await client.eval(script, 1, key, `${runId}|${handler}`, String(version));
    },
    all: async () => {
      const fields = await client.hgetall(key);
      const effects: Effect[] = [];
      for (const [field, value] of Object.entries(fields)) {
        if (field.includes(":")) continue;
        const [runId = "", handler = ""] = field.split("|");
        effects.push({ runId, handler, version: Number(value), retries: Number(fields[`${field}:retries`] ?? 0), duplicates: Number(fields[`${field}:duplicates`] ?? 0) });
      }
      return effects;
    },
  };
}

/** Effects in this process's memory, for the memory backend's in-process workers. */
export function memoryEffects(): Effects {
  const effects = new Map<string, Effect>();
  return {
    apply: async (runId, handler, version) => {
      const key = `${runId}|${handler}`;
      const seen = effects.get(key);
      if (!seen) effects.set(key, { runId, handler, version, retries: 0, duplicates: 0 });
      else if (seen.version === version) seen.retries++;
      else seen.duplicates++;
    },
    all: async () => [...effects.values()],
  };
}
