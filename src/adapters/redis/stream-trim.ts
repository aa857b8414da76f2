import type { TrimCutoffs } from "../../retention.js";
import type { RedisClient } from "./driver.js";
import { RedisCommandError } from "./errors.js";
import { ephemeralGroupName } from "./ephemeral-group.js";

/**
 * An ephemeral group is taken for left behind by a process that died once its consumer has not
 * read for this long (an open receiver reads at least every `blockMs`), or, before its first read,
 * this long after it was created.
 */
export const ephemeralIdleMs = 10 * 60_000;

/** A stream id as its two numbers, compared in order. */
type StreamId = readonly [bigint, bigint];

/**
 * Trims the stream `key`: XTRIM MINID to the oldest entry a durable group has not passed (capped by
 * `passedOlderThanMs`), or past `olderThanMs`, whichever is later; then destroys the ephemeral
 * groups whose process died. Stream ids start with the server's time in ms, which is what the
 * cutoffs are compared with, so entries are aged by when the server stored them.
 */
export async function trimStream(client: RedisClient, key: string, cutoffs: TrimCutoffs, nowMs: number): Promise<void> {
  const groups = (await command(client, "XINFO", "GROUPS", key).catch(() => [])) as unknown[];
  let passed: StreamId | undefined;
  let durable = 0;
  for (const group of groups.map(fieldsOf)) {
    const name = String(group.get("name"));
    if (ephemeralGroupName(name) !== undefined) {
      await destroyIfLeft(client, key, name, nowMs);
      continue;
    }
    durable++;
    const position = await groupPosition(client, key, name, group);
    if (passed === undefined || compare(position, passed) < 0) passed = position;
  }
  let minId: StreamId = [BigInt(Math.max(0, Math.floor(cutoffs.olderThanMs))), 0n];
  if (durable > 0 && passed !== undefined) {
    const graceCap: StreamId = [BigInt(Math.max(0, Math.floor(cutoffs.passedOlderThanMs))), 0n];
    const byAcks = compare(passed, graceCap) < 0 ? passed : graceCap;
    if (compare(byAcks, minId) > 0) minId = byAcks;
  }
  if (minId[0] === 0n && minId[1] === 0n) return;
  await command(client, "XTRIM", key, "MINID", `${minId[0]}-${minId[1]}`);
}

/** The id of the oldest entry the group has not passed: its oldest pending entry, else the one after its last delivered. */
async function groupPosition(client: RedisClient, key: string, name: string, group: Map<string, unknown>): Promise<StreamId> {
  if (Number(group.get("pending")) > 0) {
    const summary = (await command(client, "XPENDING", key, name)) as unknown[];
    const oldest = parseId(summary[1]);
    if (oldest !== undefined) return oldest;
  }
  const last = parseId(group.get("last-delivered-id")) ?? [0n, 0n];
  return [last[0], last[1] + 1n];
}

async function destroyIfLeft(client: RedisClient, key: string, name: string, nowMs: number): Promise<void> {
  const consumers = ((await command(client, "XINFO", "CONSUMERS", key, name)) as unknown[]).map(fieldsOf);
  const createdMs = ephemeralGroupName(name)?.createdMs ?? 0;
  const idleMs = consumers.length === 0 ? nowMs - createdMs : Math.min(...consumers.map((c) => Number(c.get("idle"))));
  if (idleMs > ephemeralIdleMs) await command(client, "XGROUP", "DESTROY", key, name);
}

/** A reply's field list (RESP2: a flat array; RESP3: a map or an object) as a Map. */
function fieldsOf(reply: unknown): Map<string, unknown> {
  if (reply instanceof Map) return new Map([...reply].map(([k, v]) => [String(k), v]));
  if (Array.isArray(reply)) {
    const fields = new Map<string, unknown>();
    for (let i = 0; i + 1 < reply.length; i += 2) fields.set(String(reply[i]), reply[i + 1]);
    return fields;
  }
  if (typeof reply === "object" && reply !== null) return new Map(Object.entries(reply));
  return new Map();
}

function parseId(value: unknown): StreamId | undefined {
  const match = /^(\d+)-(\d+)$/.exec(String(value));
  return match ? [BigInt(match[1] ?? "0"), BigInt(match[2] ?? "0")] : undefined;
}

function compare(a: StreamId, b: StreamId): number {
  if (a[0] !== b[0]) return a[0] < b[0] ? -1 : 1;
  return a[1] === b[1] ? 0 : a[1] < b[1] ? -1 : 1;
}

function command(client: RedisClient, name: string, ...args: (string | number)[]): Promise<unknown> {
  return client.call(name, ...args).catch((err: unknown) => {
    throw new RedisCommandError(name, String(args[0] ?? ""), { cause: err });
  });
}
