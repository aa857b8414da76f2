import { randomUUID } from "node:crypto";

/** Starts the group of every ephemeral receiver, so that trimming tells them from durable groups. */
const prefix = "~ephemeral~";

/**
 * The consumer group of an ephemeral receiver named `name`: its own, with the time it was made,
 * so that a trim can tell one left behind by a process that died before its first read.
 */
export function newEphemeralGroup(name: string, nowMs: number): string {
  return `${prefix}${nowMs}:${randomUUID()}:${name}`;
}

/** For the group of an ephemeral receiver, when it was made; undefined for a durable group. */
export function ephemeralGroupName(group: string): { createdMs: number } | undefined {
  if (!group.startsWith(prefix)) return undefined;
  const createdMs = Number(group.slice(prefix.length, group.indexOf(":", prefix.length)));
  return { createdMs: Number.isFinite(createdMs) ? createdMs : 0 };
}
