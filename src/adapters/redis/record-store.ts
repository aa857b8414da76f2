import { systemClock, type Clock } from "../../clock.js";
import { InvalidOptionError, ObjectTooLargeError, OutboxRecordNotFoundError, RecordNotFoundError, VersionConflictError, WorkflowInProgressError } from "../../errors.js";
import { outboxEventData, outboxTopic } from "../../outbox-event.js";
import type { ListQuery, OutboxEvent, Record, RecordStore } from "../../record.js";
import { isFinished } from "../../runstate.js";
import { encodedName } from "../../topic.js";
import type { RedisClient } from "./driver.js";
import { RedisCommandError } from "./errors.js";
import { latestScript, listForeignScript, listScript, lookupManyScript, recordFields, storeScript, StoreOutcome } from "./record-scripts.js";
import { replyInteger, replyText } from "./reply.js";
import { eventFields, toOutboxEvent } from "./stream-entry.js";
import { afterDecoding, decodeRows } from "../../readable-rows.js";
import { storedRecord } from "../../stored-record.js";

/** The default {@link RedisRecordStoreOptions.maxObjectBytes}: 16 MiB. */
export const defaultMaxObjectBytes = 16 * 1024 * 1024;

/** How many index entries one step of a `list` reads on the server. */
const listChunk = 500;

/** Options of {@link RedisRecordStore}. */
export interface RedisRecordStoreOptions {
  /** The user's ioredis client; the store sends commands on it and never quits it. */
  client: RedisClient;
  /** Put before every key. Give the same prefix as the event streamer's (both default to "stepwise:"). */
  prefix?: string;
  /**
   * Where the event of each store goes, in the same script as the record:
   * - `"outbox"` (default): a stream per workflow read by `listOutboxEvents`, which the workflow's
   *   outbox process moves to whatever EventStreamer it uses;
   * - `"stream"`: straight onto the stream of the event's topic that a {@link RedisEventStreamer}
   *   with the same prefix reads, as its sender would write it. Build the workflow with
   *   `outbox: false` then (the `redis()` bundle does both).
   */
  events?: "outbox" | "stream";
  /** With `events: "stream"`, trims each stream to about this many entries, as the streamer's `maxLen` does. Default: no trim. */
  maxLen?: number;
  /** Largest object `store` accepts, in bytes; a larger one is refused with ObjectTooLargeError. Default 16 MiB. */
  maxObjectBytes?: number;
  /** Stamps the creation time of events. Default: the system clock. */
  clock?: Clock;
}

/**
 * A {@link RecordStore} on Redis. `store` is one Lua script, so atomic: a compare-and-set on
 * `meta.version` together with the append of the record's event (to the outbox stream, or with
 * `events: "stream"` to the topic's stream the {@link RedisEventStreamer} reads). A key per
 * workflow and foreign id names the run that is unfinished, if any, and refuses a second one.
 *
 * Keys, after the prefix: `run:<runId>` a hash of the record (the object as raw bytes);
 * `index:runs` and `index:runs:<workflow>` sorted sets of every run by creation time, and
 * `index:foreign:<workflow>:<foreignId>` those of one foreign id; `unfinished:<workflow>:<foreignId>`;
 * `seq:runs`; `outbox:<workflow>`. Workflow names appear encoded as in topics. Scripts build run
 * keys from the prefix, so on Redis Cluster give a prefix with a hash tag (`"{stepwise}:"`) to put
 * every key in one slot.
 *
 * Records stay until you delete their keys; the store never expires them.
 *
 * @example
 * ```ts
 * import { Redis } from "ioredis";
 * const client = new Redis();
 * const recordStore = new RedisRecordStore({ client, events: "stream" });
 * const wf = b.build({ recordStore, eventStreamer: new RedisEventStreamer({ client }), roleScheduler, outbox: false });
 * ```
 */
export class RedisRecordStore implements RecordStore {
  readonly #client: RedisClient;
  readonly #prefix: string;
  readonly #toStream: boolean;
  readonly #trim: (string | number)[];
  readonly #maxObjectBytes: number;
  readonly #clock: Clock;

  constructor(options: RedisRecordStoreOptions) {
    this.#client = options.client;
    this.#prefix = options.prefix ?? "stepwise:";
    this.#toStream = options.events === "stream";
    this.#trim = options.maxLen === undefined ? [] : ["MAXLEN", "~", options.maxLen];
    this.#maxObjectBytes = options.maxObjectBytes ?? defaultMaxObjectBytes;
    if (!Number.isSafeInteger(this.#maxObjectBytes) || this.#maxObjectBytes < 0) {
      throw new InvalidOptionError("maxObjectBytes", `RedisRecordStore: maxObjectBytes must be a whole number of bytes, got ${String(options.maxObjectBytes)}`);
    }
    this.#clock = options.clock ?? systemClock;
  }

  /**
   * Writes the record and its event in one script, if `record.meta.version` is one more than the
   * stored version (or 1 for a new run); otherwise VersionConflictError, and nothing is written.
   * A new unfinished run is refused with WorkflowInProgressError while another run of its workflow
   * and foreign id is unfinished; an object over `maxObjectBytes` with ObjectTooLargeError.
   */
  async store(record: Record): Promise<void> {
    await this.storeMany([record]);
  }

  /**
   * Writes the records and their events in one script, so atomically, each with the version check
   * of `store`, all of them or none: the first refused record's error is thrown and nothing is written.
   */
  async storeMany(records: readonly Record[]): Promise<void> {
    const keys: string[] = [];
    const args: (string | number | Buffer)[] = [];
    for (const record of records) {
      const { runId, workflowName, foreignId, meta } = record;
      const bytes = record.object.byteLength;
      if (bytes > this.#maxObjectBytes) throw new ObjectTooLargeError(runId, bytes, this.#maxObjectBytes);
      if (!Number.isSafeInteger(meta.version) || meta.version < 1) throw new VersionConflictError(runId, meta.version);
      const name = encodedName(workflowName);
      const event = outboxEventData(record);
      const p = this.#prefix;
      keys.push(
        p + "run:" + runId,
        `${p}unfinished:${name}:${foreignId}`,
        `${p}index:runs:${name}`,
        `${p}index:runs`,
        `${p}index:foreign:${name}:${foreignId}`,
        `${p}seq:runs`,
        this.#toStream ? p + outboxTopic(record) : `${p}outbox:${name}`,
      );
      const recordArgs = [
        meta.version,
        isFinished(record.runState) ? "1" : "0",
        runId,
        record.createdAt.getTime(),
        workflowName,
        foreignId,
        // s t o u v r d g p q x, as the script writes them
        record.runState,
        record.status,
        // A copy: the socket may still hold the buffer after the caller changed its record.
        Buffer.from(record.object),
        record.updatedAt.getTime(),
        meta.version,
        meta.runStateReason,
        meta.statusDescription,
        meta.traceOrigin,
        meta.traceParent ?? "",
        meta.traceState ?? "",
        meta.workflowVersion,
        ...(this.#toStream ? this.#trim : []),
        "*",
        ...eventFields(event.foreignId, event.type, event.headers, this.#clock.now()),
      ];
      args.push(recordArgs.length, ...recordArgs);
    }
    const reply = await storeScript.run(this.#client, keys, args);
    const [outcome, index] = Array.isArray(reply) ? reply.map(Number) : [Number.NaN, 0];
    const refused = records[(index ?? 0) - 1];
    if (outcome === StoreOutcome.written) return;
    if (refused && outcome === StoreOutcome.versionConflict) throw new VersionConflictError(refused.runId, refused.meta.version);
    if (refused && outcome === StoreOutcome.inProgress) throw new WorkflowInProgressError(refused.workflowName, refused.foreignId);
    throw new RedisCommandError("EVALSHA", keys[0] ?? "", { cause: new Error(`unexpected reply ${String(reply)}`) });
  }

  /** The latest version of each run found, in one round trip. */
  async lookupMany(runIds: readonly string[]): Promise<Record[]> {
    if (runIds.length === 0) return [];
    const reply = await lookupManyScript.run(this.#client, runIds.map((runId) => this.#prefix + "run:" + runId), []);
    const records: Record[] = [];
    for (const [i, values] of (Array.isArray(reply) ? reply : []).entries()) {
      if (Array.isArray(values) && values.some((v) => v !== null)) records.push(toRecord([runIds[i], ...values]));
    }
    return records;
  }

  /** The latest version of the run; RecordNotFoundError when there is none. */
  async lookup(runId: string): Promise<Record> {
    const key = this.#prefix + "run:" + runId;
    let values: unknown;
    try {
      values = await this.#client.callBuffer("HMGET", key, ...recordFields);
    } catch (err) {
      throw new RedisCommandError("HMGET", key, { cause: err });
    }
    if (!Array.isArray(values) || values.every((v) => v === null)) throw new RecordNotFoundError(runId);
    return toRecord([runId, ...values]);
  }

  /** The newest run (the last created) of the workflow for `foreignId`; RecordNotFoundError naming the foreign id when there is none. */
  async latest(workflowName: string, foreignId: string): Promise<Record> {
    const reply = await latestScript.run(this.#client, [`${this.#prefix}index:foreign:${encodedName(workflowName)}:${foreignId}`], [this.#prefix]);
    if (!Array.isArray(reply)) throw RecordNotFoundError.forForeignId(workflowName, foreignId);
    return toRecord(reply);
  }

  /**
   * A page of runs ordered by `createdAt` (ties in insertion order), ascending unless
   * `order: "desc"`. Each filter given narrows the result; an empty array filters nothing.
   * `createdAfter` and `createdBefore` are exclusive.
   *
   * A time window and an offset are found through the index at once. With a workflow name, a
   * foreign-id filter reads only those foreign ids' runs. Other filters are checked on the server,
   * 500 index entries per round trip, so a filter few runs pass costs a walk over the workflow's
   * runs in the window.
   */
  async list(query: ListQuery): Promise<Record[]> {
    let need = wholeNumber(query.limit, "list: limit");
    let skip = wholeNumber(query.offset ?? 0, "list: offset");
    const { filter = {} } = query;
    if (query.workflowName !== undefined && filter.foreignId?.length) return this.#listForeign(query, query.workflowName, filter.foreignId, skip, need);
    const index = query.workflowName === undefined ? `${this.#prefix}index:runs` : `${this.#prefix}index:runs:${encodedName(query.workflowName)}`;
    const asJson = (values: readonly (string | number)[] | undefined) => (values?.length ? JSON.stringify(values.map(String)) : "");
    const runs: unknown[][] = [];
    let after = "";
    while (need > 0) {
      const reply = await listScript.run(
        this.#client,
        [index],
        [
          this.#prefix,
          query.order === "desc" ? "desc" : "asc",
          filter.createdAfter?.getTime() ?? "",
          filter.createdBefore?.getTime() ?? "",
          after,
          skip,
          need,
          listChunk,
          asJson(filter.foreignId),
          asJson(filter.status),
          asJson(filter.runState),
        ],
      );
      if (!Array.isArray(reply)) throw new TypeError(`redis: unexpected list reply ${String(reply)}`);
      const [done, last, skipLeft, ...chunk] = reply as [number, Buffer, number, ...unknown[][]];
      runs.push(...chunk);
      need -= chunk.length;
      if (done === 1) break;
      after = String(last);
      skip = Number(skipLeft);
    }
    return decodeRows(runs, toRecord, (run) => replyText(run[0]));
  }

  /** `list` by foreign id within one workflow: those foreign ids' runs, merged, filtered and paged here. */
  async #listForeign(query: ListQuery, workflowName: string, foreignIds: readonly string[], offset: number, limit: number): Promise<Record[]> {
    const { filter = {} } = query;
    const name = encodedName(workflowName);
    const keys = [...new Set(foreignIds)].map((foreignId) => `${this.#prefix}index:foreign:${name}:${foreignId}`);
    const reply = await listForeignScript.run(this.#client, keys, [
      this.#prefix,
      filter.createdAfter === undefined ? "-inf" : `(${filter.createdAfter.getTime()}`,
      filter.createdBefore === undefined ? "+inf" : `(${filter.createdBefore.getTime()}`,
    ]);
    if (!Array.isArray(reply)) throw new TypeError(`redis: unexpected list reply ${String(reply)}`);
    const entries = (reply as [Buffer, Buffer, unknown[]][]).map(([score, member, run]) => ({ createdAtMs: Number(String(score)), member: String(member), run }));
    // Members of one creation time sort by their sequence, as in the sorted sets.
    entries.sort((a, b) => a.createdAtMs - b.createdAtMs || (a.member < b.member ? -1 : a.member > b.member ? 1 : 0));
    if (query.order === "desc") entries.reverse();
    const statuses = filter.status?.length ? new Set(filter.status) : undefined;
    const runStates = filter.runState?.length ? new Set(filter.runState) : undefined;
    // Filtered and paged here, so a run that cannot be read is reported beside the page, not in it.
    return afterDecoding(
      () => decodeRows(entries, (e) => toRecord(e.run), (e) => replyText(e.run[0])),
      (records) => records.filter((r) => (!statuses || statuses.has(r.status)) && (!runStates || runStates.has(r.runState))).slice(offset, offset + limit),
    );
  }

  /** Up to `limit` outbox events of the workflow, oldest first; none with `events: "stream"`. Unreadable entries: MalformedRowsError. */
  async listOutboxEvents(workflowName: string, limit: number): Promise<OutboxEvent[]> {
    const name = encodedName(workflowName);
    const key = `${this.#prefix}outbox:${name}`;
    let reply: unknown;
    try {
      reply = await this.#client.call("XRANGE", key, "-", "+", "COUNT", wholeNumber(limit, "listOutboxEvents: limit"));
    } catch (err) {
      throw new RedisCommandError("XRANGE", key, { cause: err });
    }
    if (!Array.isArray(reply)) return [];
    const entries = reply as [string, string[]][];
    return decodeRows(
      entries,
      ([id, fields]) => toOutboxEvent(`${name}/${id}`, workflowName, fields),
      ([id]) => `${name}/${id}`,
    );
  }

  /** Deletes a sent outbox event; OutboxRecordNotFoundError when there is none with that id. */
  async deleteOutboxEvent(id: string): Promise<void> {
    const match = /^([a-z0-9_]+)\/(\d+-\d+)$/.exec(id);
    if (!match) throw new OutboxRecordNotFoundError(id);
    const key = `${this.#prefix}outbox:${match[1]}`;
    let deleted: unknown;
    try {
      deleted = await this.#client.call("XDEL", key, match[2] as string);
    } catch (err) {
      throw new RedisCommandError("XDEL", key, { cause: err });
    }
    if (Number(deleted) === 0) throw new OutboxRecordNotFoundError(id);
  }
  async deleteOutboxEvents(ids: readonly string[]): Promise<void> {
    const byStream = new Map<string, string[]>();
    for (const id of ids) {
      const match = /^([a-z0-9_]+)\/(\d+-\d+)$/.exec(id);
      if (!match) continue;
      const key = `${this.#prefix}outbox:${match[1]}`;
      byStream.set(key, [...(byStream.get(key) ?? []), match[2] as string]);
    }
    for (const [key, entries] of byStream) {
      try {
        await this.#client.call("XDEL", key, ...entries);
      } catch (err) {
        throw new RedisCommandError("XDEL", key, { cause: err });
      }
    }
  }

}

/** A run's hash fields, after its run id, as a Record; refuses one that no store could have written (see {@link storedRecord}). */
function toRecord(values: readonly unknown[]): Record {
  const [runIdValue, w, f, s, t, o, c, u, v, r, d, g, p, q, x] = values;
  const text = (value: unknown) => (value instanceof Uint8Array ? replyText(value) : undefined);
  return storedRecord({
    runId: replyText(runIdValue),
    workflowName: text(w),
    foreignId: text(f),
    runState: replyInteger(s),
    status: replyInteger(t),
    object: o instanceof Uint8Array ? o : undefined,
    createdAtMs: replyInteger(c),
    updatedAtMs: replyInteger(u),
    version: replyInteger(v),
    // Hashes written before stepwise kept the workflow version lack the field: version 1 wrote them.
    workflowVersion: x === null || x === undefined ? 1 : replyInteger(x),
    runStateReason: replyText(r),
    statusDescription: replyText(d),
    traceOrigin: replyText(g),
    traceParent: replyText(p),
    traceState: replyText(q),
    read: { runState: replyText(s), status: replyText(t), version: replyText(v), workflowVersion: replyText(x) },
  });
}

/** Checks a page size or offset. */
function wholeNumber(value: number, what: string): number {
  if (!Number.isSafeInteger(value) || value < 0) throw new InvalidOptionError(what, `RedisRecordStore.${what} must be a whole number of at least 0, got ${String(value)}`);
  return value;
}
