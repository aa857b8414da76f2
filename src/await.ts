import { randomUUID } from "node:crypto";
import { errorText } from "./logger.js";
import { untilWoken } from "./abort.js";
import type { WorkflowContext } from "./context.js";
import { systemClock } from "./clock.js";
import { AwaitTimeoutError, InvalidOptionError, RecordNotFoundError, StatusNotReachedError } from "./errors.js";
import { HeaderKey, type EventReceiver } from "./event.js";
import type { TypedRecord } from "./run.js";
import { isFinished } from "./runstate.js";
import { encodedName, runStateChangeTopic, topic } from "./topic.js";
import { decodeRecord } from "./update.js";
import { checkNotNewer, isOlderVersion, upgradedStatus } from "./upgrade.js";

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

/**
 * Counts the events seen for one run on one topic, so a waiter misses none between its checks.
 * Each await call has its own, and waits on it one wait at a time.
 */
class Subscription {
  /** The next subscription to the same run on the same topic (several awaits of one run). */
  next: Subscription | undefined;
  seen = 0;
  /** The record version the latest event announced. */
  version = 0;
  /** Set when the topic's receiver failed: the waiter must subscribe again. */
  broken = false;
  /** Ends the wait in progress. */
  #wake: (() => void) | undefined;

  notify(version: number): void {
    this.seen++;
    this.version = version;
    this.wake();
  }

  /** Wakes the waiter without an event, so it looks at its signals again. */
  wake(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  /** Resolves once more than `seen` events have arrived; rejects when any of the signals aborts. */
  waitBeyond(seen: number, signals: readonly AbortSignal[]): Promise<void> {
    if (this.seen > seen) return Promise.resolve();
    // Most awaits have neither a signal nor a timeout: then there is nothing to listen to.
    if (signals.length === 0) return new Promise((resolve) => (this.#wake = resolve));
    return untilWoken((wake) => {
      this.#wake = wake;
      return () => {
        if (this.#wake === wake) this.#wake = undefined;
      };
    }, ...signals);
  }
}

/** Ends the timeout's sleep once the await is settled; a reason of our own avoids building a DOMException. */
const settled = new Error("await settled");

interface WatchedTopic {
  /** Settles once the receiver is open; `open` says so without a wait. */
  ready: Promise<void>;
  open: boolean;
  /** Run id → the first of its subscriptions, linked by `next`: no set per awaited run. */
  subscriptions: Map<string, Subscription>;
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
  /** Status → the topic an await of it watches, made once. */
  readonly #topicNames = new Map<number, string>();
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
   * with StatusNotReachedError once a terminal `status` can no longer be reached, and with
   * NewerWorkflowVersionError for a run a newer version of the workflow wrote.
   */
  async await<S extends number>(foreignId: string, runId: string, status: S, options?: AwaitOptions): Promise<TypedRecord<T, S>> {
    const { graph } = this.#ctx;
    const timeoutMs = options?.timeoutMs;
    if (timeoutMs !== undefined && (typeof timeoutMs !== "number" || Number.isNaN(timeoutMs) || timeoutMs < 0)) {
      throw new InvalidOptionError("timeoutMs", `await: option "timeoutMs" must be a non-negative number of milliseconds, got ${String(timeoutMs)}`);
    }
    const terminal = graph.isTerminal(status);
    const topicName = this.#topicName(status, terminal);
    const signals: AbortSignal[] = [];
    if (options?.signal) signals.push(options.signal);
    const timeout = timeoutMs === undefined || timeoutMs === Infinity ? undefined : new AbortController();
    if (timeout && timeoutMs !== undefined) {
      signals.push(timeout.signal);
      systemClock
        .sleep(timeoutMs, timeout.signal)
        .then(() => timeout.abort(new AwaitTimeoutError(runId, graph.statusName(status), timeoutMs)))
        .catch(() => {});
    }
    let subscription = new Subscription();
    let watched = await this.#subscribe(topicName, runId, subscription);
    this.#active.add(subscription);
    try {
      for (;;) {
        if (subscription.broken) {
          unsubscribe(watched, runId, subscription);
          this.#active.delete(subscription);
          subscription = new Subscription();
          watched = await this.#subscribe(topicName, runId, subscription);
          this.#active.add(subscription);
        }
        const seen = subscription.seen;
        // The record the latest event announced, when this process wrote it; else the stored one.
        const record = (seen > 0 && this.#ctx.recentWrites.get(runId, subscription.version)) || (await this.#ctx.lookup(runId));
        if (record.foreignId !== foreignId) throw new RecordNotFoundError(runId);
        checkNotNewer(this.#ctx, record);
        // An event on a status topic proves the run entered that status, even if it moved on since;
        // and a run that finished elsewhere can no longer reach a terminal target, so waiting ends.
        // A run of an older version is where its status maps to: its own numbers (and so its
        // events) may mean other statuses.
        const reached = isOlderVersion(this.#ctx, record) ? upgradedStatus(this.#ctx, record) === status : record.status === status || (!terminal && seen > 0);
        if (reached) return decodeRecord<T, S>(this.#ctx, record);
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
      unsubscribe(watched, runId, subscription);
    }
  }

  /** A run reaching a terminal status completes, and completion is announced on the run-state-change topic. */
  #topicName(status: number, terminal: boolean): string {
    let name = this.#topicNames.get(status);
    if (name === undefined) {
      name = terminal ? runStateChangeTopic(this.#ctx.name) : topic(this.#ctx.name, status);
      this.#topicNames.set(status, name);
    }
    return name;
  }

  /** Adds the subscription to its topic's, opening the topic's receiver first if nobody watches it yet. */
  async #subscribe(topicName: string, runId: string, subscription: Subscription): Promise<WatchedTopic> {
    let watched = this.#topics.get(topicName);
    if (!watched) {
      const receiver = this.#ctx.eventStreamer.newReceiver(topicName, this.#receiverName, { streamFromLatest: true, ephemeral: true });
      const created: WatchedTopic = { ready: receiver.then(() => void (created.open = true)), open: false, subscriptions: new Map() };
      watched = created;
      this.#topics.set(topicName, created);
      void receiver.then((r) => this.#dispatch(r, created.subscriptions)).catch((err: unknown) => this.#failed(topicName, created, err));
    }
    if (!watched.open) await watched.ready;
    subscription.next = watched.subscriptions.get(runId);
    watched.subscriptions.set(runId, subscription);
    return watched;
  }

  async #dispatch(receiver: EventReceiver, subscriptions: Map<string, Subscription>): Promise<void> {
    try {
      while (!this.#lifetime.aborted) {
        const { event, ack } = await receiver.recv(this.#lifetime);
        const runId = event.headers[HeaderKey.runId] ?? "";
        const version = Number(event.headers[HeaderKey.recordVersion]);
        for (let subscription = subscriptions.get(runId); subscription; subscription = subscription.next) subscription.notify(version);
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
    this.#ctx.logger.error(`await: receiver of ${topicName} failed: ${errorText(err)}`, { process: "await", topic: topicName, err });
    for (const first of watched.subscriptions.values()) {
      for (let subscription: Subscription | undefined = first; subscription; subscription = subscription.next) {
        subscription.broken = true;
        subscription.wake();
      }
    }
  }
}

/** Takes `subscription` out of its run's list on the topic. */
function unsubscribe(watched: WatchedTopic, runId: string, subscription: Subscription): void {
  const first = watched.subscriptions.get(runId);
  if (first === subscription) {
    if (subscription.next) watched.subscriptions.set(runId, subscription.next);
    else watched.subscriptions.delete(runId);
    return;
  }
  for (let before = first; before; before = before.next) {
    if (before.next === subscription) {
      before.next = subscription.next;
      return;
    }
  }
}
