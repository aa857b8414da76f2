import { setTimeout as delay } from "node:timers/promises";
import { randomBytes } from "node:crypto";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";

/** Where the NATS server with JetStream listens for the tests. */
export const natsServers = process.env.NATS_URL ?? "127.0.0.1:4222";

/** A connection that keeps reconnecting, as the adapters ask of their users. */
export function connectNats(servers: string = natsServers): Promise<NatsConnection> {
  return connect({ servers, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
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
