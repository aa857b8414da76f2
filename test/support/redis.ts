import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { connect, createServer } from "node:net";
import { Redis, type RedisOptions } from "ioredis";
import { until } from "./until.js";

/** A client on the test server (REDIS_HOST/REDIS_PORT, default 127.0.0.1:6379). */
export function redisClient(options: RedisOptions = {}): Redis {
  const client = new Redis({ host: process.env.REDIS_HOST ?? "127.0.0.1", port: Number(process.env.REDIS_PORT ?? 6379), ...options });
  // Tests that kill connections see them reconnect; the errors on the way are expected.
  client.on("error", () => {});
  return client;
}

/** A key prefix no other test file or earlier run uses. */
export function freshPrefix(label: string): string {
  return `stepwise-test:${label}:${randomBytes(4).toString("hex")}:`;
}

/** Deletes every key under `prefix`. */
export async function deleteKeys(client: Redis, prefix: string): Promise<void> {
  let cursor = "0";
  do {
    const [next, keys] = await client.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 1000);
    cursor = next;
    if (keys.length > 0) await client.del(...keys);
  } while (cursor !== "0");
}

/**
 * Ends the connections (normal or subscribed) named `name` on the server, every one or `count`
 * chosen at random; returns how many.
 */
export async function killConnections(client: Redis, name: string, count = Infinity): Promise<number> {
  const list = String(await client.call("CLIENT", "LIST"));
  const ids: string[] = [];
  for (const line of list.split("\n")) {
    const fields = new Map(line.trim().split(" ").map((pair) => pair.split("=", 2) as [string, string]));
    if (fields.get("name") === name) ids.push(fields.get("id") ?? "");
  }
  const chosen = ids.sort(() => Math.random() - 0.5).slice(0, count);
  let killed = 0;
  for (const id of chosen) killed += Number(await client.call("CLIENT", "KILL", "ID", id));
  return killed;
}

/** A local port nothing listens on. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address !== "object") throw new Error("no port");
  return address.port;
}

/**
 * How a private redis-server keeps its data: an append-only file fsynced on every write
 * (`always`) or once a second (`everysec`), or nothing at all (`none`). RDB snapshots are off in each.
 */
export type RedisPersistence = "always" | "everysec" | "none";

/**
 * A redis-server of the caller's own on `port`, keeping its data in `dir` as `persistence` says
 * (by default an append-only file with fsync on every write, so that a restart finds what was
 * written before). Stopping it is a graceful SIGTERM; `start` again brings it back with its data.
 */
export function privateRedisServer(port: number, dir: string, persistence: RedisPersistence = "always"): { start(): Promise<void>; stop(): Promise<void> } {
  const aof = persistence === "none" ? ["--appendonly", "no"] : ["--appendonly", "yes", "--appendfsync", persistence];
  let child: ChildProcess | undefined;
  return {
    async start() {
      child = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--dir", dir, ...aof, "--save", ""], { stdio: "ignore" });
      await until("the private redis-server to listen", () => isListening(port), 10_000);
    },
    async stop() {
      const running = child;
      child = undefined;
      if (!running || running.exitCode !== null) return;
      const exited = once(running, "exit");
      running.kill("SIGTERM");
      await exited;
    },
  };
}

function isListening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.end();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}
