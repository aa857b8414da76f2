import { randomBytes } from "node:crypto";
import type { BuildConfig } from "stepwise";
import { memory } from "stepwise/memory";

/** The adapters a benchmark run builds its workflow on, and how to let go of them afterwards. */
export interface Backend {
  config: Pick<BuildConfig<unknown>, "eventStreamer" | "recordStore" | "roleScheduler" | "timeoutStore" | "outbox">;
  close(): Promise<void>;
  /** Statements sent to PostgreSQL so far, on every connection, where the backend uses it. */
  queries?(): number;
}

/** A pool on the local PostgreSQL and a fresh schema with stepwise's tables; `drop()` removes both. */
async function postgresSchema(schema = `bench_${randomBytes(4).toString("hex")}`) {
  const { default: pg } = await import("pg");
  const { migrate } = await import("stepwise/postgres");
  const pool = new pg.Pool({
    host: process.env.PGHOST ?? "127.0.0.1",
    user: process.env.PGUSER ?? "postgres",
    database: process.env.PGDATABASE ?? "test",
    max: 20,
  });
  await migrate(pool, { schema });
  let sent = 0;
  pool.on("connect", (client) => {
    const query = client.query.bind(client) as (...args: unknown[]) => unknown;
    (client as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
      sent++;
      return query(...args);
    };
  });
  return {
    pool,
    schema,
    queries: () => sent,
    drop: async () => {
      await pool.query(`DROP SCHEMA "${schema}" CASCADE`);
      await pool.end();
    },
  };
}

/** Each benchmark run gets its own schema, dropped afterwards. */
async function postgresBackend(): Promise<Backend> {
  const { postgres } = await import("stepwise/postgres");
  const { pool, schema, drop, queries } = await postgresSchema();
  const adapters = postgres({ pool, schema });
  return {
    queries,
    config: adapters,
    close: async () => {
      await adapters.close();
      await drop();
    },
  };
}

/** Each benchmark run gets its own table prefix, dropped afterwards. */
async function mysqlBackend(): Promise<Backend> {
  const { createPool } = await import("mysql2/promise");
  const { migrate, mysql } = await import("stepwise/mysql");
  const pool = createPool({ host: process.env.MYSQL_HOST ?? "127.0.0.1", user: "root", database: "test", connectionLimit: 20 });
  const prefix = `bench_${randomBytes(4).toString("hex")}_`;
  await migrate(pool, { prefix });
  const adapters = mysql({ pool, prefix });
  return {
    config: adapters,
    close: async () => {
      await adapters.close();
      const [rows] = await pool.query(`SHOW TABLES LIKE '${prefix}%'`);
      for (const row of rows as { [column: string]: string }[]) await pool.query(`DROP TABLE \`${Object.values(row)[0]}\``);
      await pool.end();
    },
  };
}

/** Each benchmark run gets its own temporary file, deleted afterwards. */
async function sqliteBackend(): Promise<Backend> {
  const { mkdtemp, rm } = await import("node:fs/promises");
  const { tmpdir } = await import("node:os");
  const { join } = await import("node:path");
  const { sqlite } = await import("stepwise/sqlite");
  const dir = await mkdtemp(join(tmpdir(), "stepwise-bench-"));
  const adapters = sqlite(join(dir, "bench.db"));
  return {
    config: adapters,
    close: async () => {
      await adapters.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A client on the local Redis and a key prefix of its own; `drop()` deletes the prefix's keys and quits. */
async function redisPrefix(id = randomBytes(4).toString("hex")) {
  const { Redis } = await import("ioredis");
  const client = new Redis({ host: process.env.REDIS_HOST ?? "127.0.0.1", port: Number(process.env.REDIS_PORT ?? 6379) });
  const prefix = `bench:${id}:`;
  return {
    client,
    prefix,
    drop: async () => {
      const { deleteKeys } = await import("../test/support/redis.js");
      await deleteKeys(client, prefix);
      await client.quit();
    },
  };
}

/**
 * Records on PostgreSQL (outbox mode: the outbox process moves each event to Redis), events and
 * roles on Redis. Each benchmark run gets its own schema and key prefix, dropped afterwards.
 */
async function redisBackend(): Promise<Backend> {
  const { PostgresRecordStore, PostgresTimeoutStore } = await import("stepwise/postgres");
  const { redis } = await import("stepwise/redis");
  const id = randomBytes(4).toString("hex");
  const { pool, schema, drop, queries } = await postgresSchema(`bench_${id}`);
  const keys = await redisPrefix(id);
  const events = redis({ client: keys.client, prefix: keys.prefix });
  return {
    queries,
    config: {
      ...events,
      recordStore: new PostgresRecordStore({ pool, schema }),
      timeoutStore: new PostgresTimeoutStore({ pool, schema }),
      outbox: true,
    },
    close: async () => {
      await events.close();
      await keys.drop();
      await drop();
    },
  };
}

/**
 * Records, timeouts, events and roles on one Redis (`redis({ client })` alone): each store writes
 * the record and appends its event in one script, with no outbox. Each benchmark run gets its own
 * key prefix, whose keys are deleted afterwards.
 */
async function redisOnlyBackend(): Promise<Backend> {
  const { redis } = await import("stepwise/redis");
  const keys = await redisPrefix();
  const adapters = redis({ client: keys.client, prefix: keys.prefix });
  return {
    config: adapters,
    close: async () => {
      await adapters.close();
      await keys.drop();
    },
  };
}

/**
 * Records on PostgreSQL (outbox mode: the outbox process publishes each event to JetStream),
 * events and roles on NATS. Each benchmark run gets its own schema and subject prefix; its
 * streams and role bucket are deleted afterwards.
 */
async function natsBackend(): Promise<Backend> {
  const { connect } = await import("@nats-io/transport-node");
  const { jetstreamManager } = await import("@nats-io/jetstream");
  const { PostgresRecordStore, PostgresTimeoutStore } = await import("stepwise/postgres");
  const { nats } = await import("stepwise/nats");
  // noAsyncTraces, as docs/adapters.md advises where throughput matters.
  const connection = await connect({ servers: process.env.NATS_URL ?? "127.0.0.1:4222", maxReconnectAttempts: -1, noAsyncTraces: true });
  const id = randomBytes(4).toString("hex");
  const { pool, schema, drop, queries } = await postgresSchema(`bench_${id}`);
  const prefix = `bench-${id}`;
  const events = nats({ connection, prefix });
  return {
    queries,
    config: {
      recordStore: new PostgresRecordStore({ pool, schema }),
      timeoutStore: new PostgresTimeoutStore({ pool, schema }),
      ...events,
    },
    close: async () => {
      await events.close();
      const jsm = await jetstreamManager(connection);
      const names: string[] = [];
      for await (const name of jsm.streams.names()) if (name.startsWith(`${prefix}_`) || name === `KV_${prefix}_roles`) names.push(name);
      for (const name of names) await jsm.streams.delete(name);
      await connection.close();
      await drop();
    },
  };
}

/**
 * Records on PostgreSQL (outbox mode: the outbox process produces each event to Kafka), events on
 * Kafka, roles on PostgreSQL advisory locks. Kafka is the cluster named by KAFKA_BROKERS, or else
 * the repository's test broker (librdkafka's mock cluster, scripts/kafka-mock/), built if need be,
 * started here and stopped afterwards. The mock cannot hand out producer ids and holds each empty
 * fetch for its whole wait (see docs/adapters.md), so on it the producer is not idempotent and
 * fetches wait at most 10 ms (an idle hop costs up to that).
 */
async function kafkaBackend(): Promise<Backend> {
  const { PostgresRecordStore, PostgresRoleScheduler, PostgresTimeoutStore } = await import("stepwise/postgres");
  const { kafka } = await import("stepwise/kafka");
  const { buildKafkaMock } = await import("../scripts/kafka-mock/build.mjs");
  const { testCluster } = await import("../test/support/kafka.js");
  if (!process.env.KAFKA_BROKERS) buildKafkaMock();
  const cluster = await testCluster();
  const { pool, schema, drop, queries } = await postgresSchema();
  const events = kafka(cluster.mock ? { brokers: cluster.brokers, idempotent: false, maxWaitTimeMs: 10 } : { brokers: cluster.brokers });
  return {
    queries,
    config: {
      ...events,
      recordStore: new PostgresRecordStore({ pool, schema }),
      timeoutStore: new PostgresTimeoutStore({ pool, schema }),
      roleScheduler: new PostgresRoleScheduler({ pool }),
    },
    close: async () => {
      await events.close();
      await drop();
      await cluster.stop();
    },
  };
}

export const backends: { readonly [name: string]: () => Promise<Backend> } = {
  memory: async () => {
    const adapters = memory();
    return { config: adapters, close: adapters.close };
  },
  postgres: postgresBackend,
  mysql: mysqlBackend,
  sqlite: sqliteBackend,
  redis: redisBackend,
  "redis-only": redisOnlyBackend,
  nats: natsBackend,
  kafka: kafkaBackend,
};
