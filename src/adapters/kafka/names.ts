import { InvalidOptionError } from "../../errors.js";
import { createHash } from "node:crypto";

/** Kafka's longest topic name. */
const maxTopicLength = 249;

/**
 * The Kafka topic of a stepwise topic. Kafka allows letters, digits, `.`, `_` and `-`, at most 249
 * characters. Letters, digits, `_` and `-` stay, so engine topics (`order_processing-2`,
 * `order_processing-run-state-change`) keep their names; every other byte, `.` included, becomes
 * `.` and two hex digits (`billing.v2-1` → `billing.2ev2-1`), so distinct topics never share a
 * Kafka topic. A longer result keeps its head and ends with `.z` and a hash of the whole.
 */
export function kafkaTopicName(topic: string): string {
  if (topic === "") throw new InvalidOptionError("topic", "kafka: a topic name cannot be empty");
  let name = "";
  for (const char of topic) {
    if (/^[A-Za-z0-9_-]$/.test(char)) name += char;
    else for (const byte of Buffer.from(char, "utf8")) name += `.${byte.toString(16).padStart(2, "0")}`;
  }
  if (name.length <= maxTopicLength) return name;
  // `.` is otherwise always followed by two hex digits, so `.z` marks a shortened name.
  const hash = createHash("sha256").update(topic).digest("hex").slice(0, 16);
  return `${name.slice(0, maxTopicLength - 18)}.z${hash}`;
}

/**
 * The consumer group of receiver `name` on Kafka topic `kafkaTopic`: `<name>@<kafkaTopic>`. A
 * group per topic and name, not per name alone: one name on two topics must keep two positions,
 * and kafkajs's assigners give a group's partitions to its members whatever topics each member
 * subscribed to, so two topics in one group would leave partitions unread.
 */
export function receiverGroupId(kafkaTopic: string, name: string): string {
  // A Kafka topic has no "@", so the last "@" ends the name and no two pairs share a group.
  return `${name}@${kafkaTopic}`;
}
