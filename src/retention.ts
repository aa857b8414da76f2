/**
 * How a streamer that keeps its own history (an events table, a Redis stream) trims it. Each
 * trim deletes, on one topic, the events every durable receiver of the topic has passed (once
 * they are at least `intervalMs` old, so that an ephemeral receiver a poll behind still reads
 * them) and every event older than `maxAgeMs`, read or not.
 *
 * No process of its own does it: a durable receiver, after an ack, trims its topic at most once
 * per `intervalMs` per streamer.
 *
 * Trade-offs: a topic that no durable receiver has read yet is trimmed by age only. A receiver
 * name that starts reading a topic others have read for a while (a step or hook deployed later)
 * starts at what is left, not at the topic's first event. A durable name that stops reading for
 * good holds back the trim by acks on its topic, and then only `maxAgeMs` trims it; ephemeral
 * receivers never hold anything back.
 */
export interface RetentionOptions {
  /** Events older than this are deleted, read or not, in ms. Default 7 days. */
  maxAgeMs?: number;
  /** A topic is trimmed at most this often by one streamer, in ms. Default 60,000. */
  intervalMs?: number;
}

/** A streamer's `retention` option: the policy, or `false` to keep every event until you delete it. */
export type Retention = false | RetentionOptions;

/** The policy with defaults filled in. */
export interface RetentionPolicy {
  maxAgeMs: number;
  intervalMs: number;
}

const defaultMaxAgeMs = 7 * 24 * 60 * 60_000;
const defaultIntervalMs = 60_000;

/** Where one trim of a topic deletes up to, both as times in ms since the epoch. */
export interface TrimCutoffs {
  /** Events created before this go, read or not. */
  olderThanMs: number;
  /** Events every durable receiver passed go if created before this. */
  passedOlderThanMs: number;
}

/**
 * Runs a streamer's trims: at most one per topic per interval. A trim
 * that fails is tried again after the next ack past the interval: retention is housekeeping, and
 * its failure must not fail the ack that happened to run it.
 */
export class Trimmer {
  readonly #policy: RetentionPolicy | undefined;
  readonly #trim: (topic: string, cutoffs: TrimCutoffs) => unknown;
  readonly #nowMs: () => number;
  /** Per topic, when its last trim started. */
  readonly #lastMs = new Map<string, number>();

  /**
   * `trim` deletes what the cutoffs say on one topic; `nowMs` is the time events are stamped with,
   * so that ages compare like with like.
   */
  constructor(retention: Retention | undefined, trim: (topic: string, cutoffs: TrimCutoffs) => unknown, nowMs: () => number) {
    this.#policy = retentionPolicy(retention);
    this.#trim = trim;
    this.#nowMs = nowMs;
  }

  /** Trims `topic` if its interval has passed since the last trim. Never rejects. */
  async afterAck(topic: string): Promise<void> {
    const policy = this.#policy;
    if (policy === undefined) return;
    const nowMs = this.#nowMs();
    const lastMs = this.#lastMs.get(topic);
    if (lastMs !== undefined && nowMs - lastMs < policy.intervalMs) return;
    this.#lastMs.set(topic, nowMs);
    try {
      await this.#trim(topic, { olderThanMs: nowMs - policy.maxAgeMs, passedOlderThanMs: nowMs - policy.intervalMs });
    } catch {
      // Housekeeping only: the next ack after the interval tries again.
    }
  }
}

/** The policy a `retention` option stands for: undefined when it is `false`. */
export function retentionPolicy(retention: Retention | undefined): RetentionPolicy | undefined {
  if (retention === false) return undefined;
  const maxAgeMs = retention?.maxAgeMs ?? defaultMaxAgeMs;
  const intervalMs = retention?.intervalMs ?? defaultIntervalMs;
  for (const [what, value] of [["maxAgeMs", maxAgeMs], ["intervalMs", intervalMs]] as const) {
    if (!Number.isFinite(value) || value < 0) throw new RangeError(`retention: ${what} must be a number of ms of at least 0, got ${String(value)}`);
  }
  return { maxAgeMs, intervalMs };
}
