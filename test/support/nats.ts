import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { setTimeout as delay } from "node:timers/promises";
import { randomBytes } from "node:crypto";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";

/** Where the NATS server with JetStream listens for the tests. */
export const natsServers = process.env.NATS_URL ?? "127.0.0.1:4222";

/**
 * A connection that keeps reconnecting, as the adapters ask of their users, and that waits for a
 * server that is down when it is made (a worker started while the soak restarts its server).
 */
export function connectNats(servers: string = natsServers): Promise<NatsConnection> {
  return connect({ servers, maxReconnectAttempts: -1, waitOnFirstConnect: true, reconnectTimeWait: 100 });
}

/**
 * A prefix no other test file uses, and a clean-up that deletes every stream made under it (the
 * events' streams and the roles' bucket `KV_<prefix>_roles`).
 */
export function uniquePrefix(): { prefix: string; bucket: string; removeStreams(connection: NatsConnection): Promise<void> } {
  const prefix = `t${randomBytes(5).toString("hex")}`;
  return {
    prefix,
    bucket: `${prefix}_roles`,
    removeStreams: async (connection) => {
      const jsm = await jetstreamManager(connection);
      const names: string[] = [];
      for await (const name of jsm.streams.names()) {
        if (name.startsWith(`${prefix}_`) || name === `KV_${prefix}_roles`) names.push(name);
      }
      for (const name of names) await jsm.streams.delete(name);
    },
  };
}

/**
 * Checks `condition` every `everyMs` until it holds, failing after `timeoutMs` with `what`. For
 * conditions that cost a query each: checking every millisecond would load the two shared cores.
 */
export async function eventually(what: string, condition: () => Promise<boolean>, timeoutMs: number, everyMs = 20): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await delay(everyMs);
  }
}

/**
 * A nats-server with JetStream of the caller's own on `port`, keeping its data in `dir`, so that
 * stopping and restarting it disturbs no other test. `start` resolves once it says it is ready;
 * `start` after `stop` brings it back with its data.
 */
export function privateNatsServer(port: number, dir: string): { start(): Promise<void>; stop(): Promise<void> } {
  let server: ChildProcess | undefined;
  return {
    async start() {
      const child = spawn("nats-server", ["-a", "127.0.0.1", "-p", String(port), "-js", "-sd", dir], { stdio: ["ignore", "ignore", "pipe"] });
      server = child;
      const ready = new Promise<void>((resolve, reject) => {
        createInterface({ input: child.stderr as NodeJS.ReadableStream }).on("line", (line) => {
          if (line.includes("Server is ready")) resolve();
        });
        child.once("exit", (code) => reject(new Error(`nats-server exited with ${code} before it was ready`)));
        child.once("error", reject);
      });
      let timer: NodeJS.Timeout | undefined;
      const limit = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error("nats-server was not ready within 20 s")), 20_000);
      });
      try {
        await Promise.race([ready, limit]);
      } finally {
        clearTimeout(timer);
      }
    },
    async stop() {
      const running = server;
      server = undefined;
      if (!running || running.exitCode !== null || running.signalCode !== null) return;
      const exited = once(running, "exit");
      running.kill("SIGTERM");
      await exited;
    },
  };
}
