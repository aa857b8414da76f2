import { InvalidOptionError } from "../../errors.js";
import { createHash } from "node:crypto";

/**
 * The longest stream or consumer name we make. The server allows 255 characters, and each name is
 * also a folder on the server's disk; longer names keep a readable head and a hash of the whole.
 */
const maxNameLength = 200;

/** A topic of an engine workflow ends with a status number, "delete" or "run-state-change". */
const runStateChangeSuffix = "-run-state-change";

/**
 * Makes any string safe as one subject token, stream name or consumer name: letters, digits, `_`
 * and `-` stay; every other byte (NATS forbids `.`, `*`, `>`, whitespace and path separators in
 * names) becomes `~` and two hex digits, `~` itself included. Distinct strings stay distinct; the
 * empty string becomes `~~`, which appears in no other token, since every other `~` is followed by
 * two hex digits.
 */
export function token(value: string): string {
  return escaped(value, "~");
}

/** `value` with every character but letters, digits, `_` and `-` written as `mark` and hex bytes; "" as two marks. */
function escaped(value: string, mark: string): string {
  if (value === "") return mark + mark;
  let out = "";
  for (const char of value) {
    if (/^[A-Za-z0-9_-]$/.test(char)) out += char;
    else for (const byte of Buffer.from(char, "utf8")) out += `${mark}${byte.toString(16).padStart(2, "0")}`;
  }
  return out;
}

/** Keeps a name under the server's limit; a shortened name ends with `~z` and a hash of the whole. */
function bounded(name: string): string {
  if (name.length <= maxNameLength) return name;
  const hash = createHash("sha256").update(name).digest("hex").slice(0, 16);
  return `${name.slice(0, maxNameLength - 18)}~z${hash}`;
}

/** Where one topic lives in JetStream. */
export interface TopicAddress {
  /** The stream holding the topic's workflow: `<prefix>_<workflow>`. */
  stream: string;
  /** Every subject of that stream: `<prefix>.<workflow>.>`. */
  streamSubjects: string;
  /** The topic's own subject: `<prefix>.<workflow>.<status>`. */
  subject: string;
  /** Tells the topic apart from the other topics of its stream in consumer names. */
  part: string;
}

/** Checks a user's subject prefix: it is put verbatim before every subject and stream name. */
export function checkPrefix(prefix: string): string {
  if (!/^[A-Za-z0-9-]+$/.test(prefix)) {
    throw new InvalidOptionError("prefix", `NATS prefix "${prefix}" must be letters, digits and "-" only: it starts every subject and stream name`);
  }
  return prefix;
}

/**
 * Maps a topic to its stream and subject: one stream per workflow, one subject per topic.
 * `order-processing-2` → stream `stepwise_order-processing`, subject `stepwise.order-processing.2`;
 * `order-processing-run-state-change` → subject `stepwise.order-processing.run-state-change`.
 * Any other topic is split at its last `-` the same way, and a topic without `-` is a workflow of
 * its own with the part `~`; distinct topics never share a subject.
 */
export function topicAddress(prefix: string, topic: string): TopicAddress {
  let workflow: string;
  let part: string;
  if (topic.endsWith(runStateChangeSuffix)) {
    workflow = topic.slice(0, -runStateChangeSuffix.length);
    part = token("run-state-change");
  } else {
    const dash = topic.lastIndexOf("-");
    workflow = dash < 0 ? topic : topic.slice(0, dash);
    // "~" alone is no token() output, so a topic without a dash cannot meet one that has one.
    part = dash < 0 ? "~" : token(topic.slice(dash + 1));
  }
  const workflowToken = token(workflow);
  return {
    // The prefix has no "_", so the first "_" ends it and no two prefixes share a stream name.
    stream: bounded(`${prefix}_${workflowToken}`),
    streamSubjects: `${prefix}.${workflowToken}.>`,
    subject: `${prefix}.${workflowToken}.${part}`,
    part,
  };
}

/** The durable consumer of receiver `name` on the topic at `address`: unique within its stream. */
export function durableName(name: string, address: TopicAddress): string {
  // "~~" never occurs inside a token (except as the whole of the empty one), so it separates the two.
  return bounded(`${token(name)}~~${address.part}`);
}

/**
 * A role's key in the key-value bucket. KV keys allow letters, digits, `_`, `-`, `/`, `=` and `.`;
 * everything but letters, digits, `_` and `-` is written as `=` and two hex digits.
 */
export function roleKey(role: string): string {
  return escaped(role, "=");
}

/** Checks a bucket name: KV bucket names allow letters, digits, `_` and `-`. */
export function checkBucket(bucket: string): string {
  if (!/^[A-Za-z0-9_-]+$/.test(bucket)) throw new InvalidOptionError("bucket", `NATS KV bucket name "${bucket}" must be letters, digits, "_" and "-" only`);
  return bucket;
}
