import { randomUUID } from "node:crypto";
import { untilWoken } from "./abort.js";
import type { WorkflowContext } from "./context.js";
import { systemClock } from "./clock.js";
import { AwaitTimeoutError, InvalidOptionError, RecordNotFoundError, StatusNotReachedError } from "./errors.js";
import { HeaderKey, type EventReceiver } from "./event.js";
import type { TypedRecord } from "./run.js";
import { isFinished } from "./runstate.js";
import { encodedName, runStateChangeTopic, topic } from "./topic.js";
import { decodeRecord } from "./update.js";

/** Options of `Workflow.await`. */
export interface AwaitOptions {
  signal?: AbortSignal;
  /**
   * Give up with AwaitTimeoutError after this long. Measured on the wall clock, not the workflow's
   * clock: it bounds how long the caller waits, so it also ends under a FakeClock nobody advances.
   * `Infinity` waits without limit.
   */
  timeoutMs?: number;
}

/** Counts the events seen for one run on one topic, so a waiter misses none between its checks. */
class Subscription {
  seen = 0;
  /** The record version the latest event announced. */
  version = 0;
  /** Set when the topic's receiver failed: the waiter must subscribe again. */
  broken = false;
  #wakers = new Set<() => void>();

  notify(version: number): void {
    this.seen++;
    this.version = version;
    this.wake();
  }

  /** Wakes the waiter without an event, so it looks at its signals again. */
  wake(): void {
    for (const wake of this.#wakers) wake();
  }

  /** Resolves once more than `seen` events have arrived; rejects when any of the signals aborts. */
  async waitBeyond(seen: number, signals: readonly AbortSignal[]): Promise<void> {
    if (this.seen > seen) return;
    await untilWoken((wake) => {
      this.#wakers.add(wake);
      return () => this.#wakers.delete(wake);
    }, ...signals);
  }
}

/** Ends the timeout's sleep once the await is settled; a reason of our own avoids building a DOMException. */
const settled = new Error("await settled");

interface WatchedTopic {
  /** Settles once the receiver is open; `open` says so without a wait. */
  ready: Promise<void>;
  open: boolean;
  subscriptions: Map<string, Set<Subscription>>;
}

/**
 * Watches topics for the runs being awaited. One receiver per topic serves every waiter in this
 * workflow instance and keeps reading until the workflow stops, so its position never holds events back;
 * it is ephemeral, so nothing of it outlives the workflow instance (no cursor row, consumer or group per start).
 */
export class RunWatcher<T> {
  readonly #ctx: WorkflowContext<T>;
  readonly #receiverName: string;
  readonly #lifetime: AbortSignal;
  readonly #topics = new Map<string, WatchedTopic>();
  /** Every waiting subscription, woken by one listener on the lifetime signal: a listener per waiter makes each add O(waiters). */
  readonly #active = new Set<Subscription>();

  constructor(ctx: WorkflowContext<T>, lifetime: AbortSignal) {
    this.#ctx = ctx;
    this.#lifetime = lifetime;
    lifetime.addEventListener("abort", () => {
      for (const subscription of this.#active) subscription.wake();
    });
    this.#receiverName = `${encodedName(ctx.name)}-await-${randomUUID()}`;
  }

  /**
   * Resolves with the run once it reaches `status`, also when it was there before the call; rejects
   * with StatusNotReachedError once a terminal `status` can no longer be reached.
   */
  async await<S extends number>(foreignId: string, runId: string, status: S, options: AwaitOptions = {}): Promise<TypedRecord<T, S>> {
    const { graph } = this.#ctx;
    const { timeoutMs } = options;
    if (timeoutMs !== undefined && (typeof timeoutMs !== "number" || Number.isNaN(timeoutMs) || timeoutMs < 0)) {
      throw new InvalidOptionError("timeoutMs", `await: option "timeoutMs" must be a non-negative number of milliseconds, got ${String(timeoutMs)}`);
    }
    const terminal = graph.isTerminal(status);
    // A run reaching a terminal status completes, and completion is announced on the run-state-change topic.
    const watched = terminal ? runStateChangeTopic(this.#ctx.name) : topic(this.#ctx.name, status);
    const signals: AbortSignal[] = [];
    if (options.signal) signals.push(options.signal);
    const timeout = timeoutMs === undefined || timeoutMs === Infinity ? undefined : new AbortController();
    if (timeout && timeoutMs !== undefined) {
      signals.push(timeout.signal);
      systemClock
        .sleep(timeoutMs, timeout.signal)
        .then(() => timeout.abort(new AwaitTimeoutError(runId, graph.statusName(status), timeoutMs)))
        .catch(() => {});
    }
    let subscription = new Subscription();
    let unsubscribe = await this.#subscribe(watched, runId, subscription);
    this.#active.add(subscription);
    try {
      for (;;) {
        if (subscription.broken) {
          unsubscribe();
          this.#active.delete(subscription);
          subscription = new Subscription();
          unsubscribe = await this.#subscribe(watched, runId, subscription);
          this.#active.add(subscription);
        }
        const seen = subscription.seen;
        // The record the latest event announced, when this process wrote it; else the stored one.
        const record = (seen > 0 && this.#ctx.recentWrites.get(runId, subscription.version)) || (await this.#ctx.lookup(runId));
        if (record.foreignId !== foreignId) throw new RecordNotFoundError(runId);
        // An event on a status topic proves the run entered that status, even if it moved on since;
        // and a run that finished elsewhere can no longer reach a terminal target, so waiting ends.
        if (record.status === status || (!terminal && seen > 0)) return decodeRecord<T, S>(this.#ctx, record);
        if (terminal && isFinished(record.runState)) {
          throw new StatusNotReachedError(runId, graph.statusName(status), decodeRecord<unknown, number>(this.#ctx, record));
        }
        this.#lifetime.throwIfAborted();
        await subscription.waitBeyond(seen, signals);
        this.#lifetime.throwIfAborted();
      }
    } finally {
      this.#active.delete(subscription);
      timeout?.abort(settled);
      unsubscribe();
    }
  }

  async #subscribe(topicName: string, runId: string, subscription: Subscription): Promise<() => void> {
    let watched = this.#topics.get(topicName);
    if (!watched) {
      const receiver = this.#ctx.eventStreamer.newReceiver(topicName, this.#receiverName, { streamFromLatest: true, ephemeral: true });
      const created: WatchedTopic = { ready: receiver.then(() => void (created.open = true)), open: false, subscriptions: new Map() };
      watched = created;
      this.#topics.set(topicName, created);
      void receiver.then((r) => this.#dispatch(r, created.subscriptions)).catch((err: unknown) => this.#failed(topicName, created, err));
    }
    if (!watched.open) await watched.ready;
    const subscriptions = watched.subscriptions;
    const forRun = subscriptions.get(runId) ?? new Set<Subscription>();
    forRun.add(subscription);
    subscriptions.set(runId, forRun);
    return () => {
      forRun.delete(subscription);
      if (forRun.size === 0) subscriptions.delete(runId);
    };
  }

  async #dispatch(receiver: EventReceiver, subscriptions: Map<string, Set<Subscription>>): Promise<void> {
    try {
      while (!this.#lifetime.aborted) {
        const { event, ack } = await receiver.recv(this.#lifetime);
        const runId = event.headers[HeaderKey.runId] ?? "";
        const version = Number(event.headers[HeaderKey.recordVersion]);
        for (const subscription of subscriptions.get(runId) ?? []) subscription.notify(version);
        await ack();
      }
    } finally {
      await receiver.close();
    }
  }

  /** The topic's receiver failed: forget it, so the next subscription opens a new one, and wake its waiters to resubscribe. */
  #failed(topicName: string, watched: WatchedTopic, err: unknown): void {
    if (this.#topics.get(topicName) === watched) this.#topics.delete(topicName);
    if (this.#lifetime.aborted) return;
    this.#ctx.logger.error(err, { process: "await", topic: topicName });
    for (const subscriptions of watched.subscriptions.values()) {
      for (const subscription of subscriptions) {
        subscription.broken = true;
        subscription.wake();
      }
    }
  }
}
