import { randomUUID } from "node:crypto";
import type { WorkflowContext } from "./context.js";
import { AwaitTimeoutError, RecordNotFoundError } from "./errors.js";
import { HeaderKey, type EventReceiver } from "./event.js";
import type { TypedRecord } from "./run.js";
import { isFinished } from "./runstate.js";
import { runStateChangeTopic, topic } from "./topic.js";
import { decodeRecord } from "./update.js";

/** Options of `Workflow.await`. */
export interface AwaitOptions {
  signal?: AbortSignal;
  /** Give up with AwaitTimeoutError after this long on the workflow's clock. */
  timeoutMs?: number;
}

/** Counts the events seen for one run on one topic, so a waiter misses none between its checks. */
class Subscription {
  seen = 0;
  /** Set when the topic's receiver failed: the waiter must subscribe again. */
  broken = false;
  #wakers = new Set<() => void>();

  notify(): void {
    this.seen++;
    this.wake();
  }

  /** Wakes the waiter without an event, so it looks at its signals again. */
  wake(): void {
    for (const wake of this.#wakers) wake();
  }

  /** Resolves once more than `seen` events have arrived; rejects when any of the signals aborts. */
  async waitBeyond(seen: number, signals: readonly AbortSignal[]): Promise<void> {
    if (this.seen > seen) return;
    throwIfAnyAborted(signals);
    let wake!: () => void;
    const arrived = new Promise<void>((resolve) => (wake = resolve));
    this.#wakers.add(wake);
    for (const signal of signals) signal.addEventListener("abort", wake, { once: true });
    try {
      await arrived;
    } finally {
      this.#wakers.delete(wake);
      for (const signal of signals) signal.removeEventListener("abort", wake);
    }
    throwIfAnyAborted(signals);
  }
}

function throwIfAnyAborted(signals: readonly AbortSignal[]): void {
  for (const signal of signals) signal.throwIfAborted();
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
    this.#receiverName = `${ctx.name}-await-${randomUUID()}`.replaceAll(" ", "_");
  }

  /** Resolves with the run once it reaches `status`, also when it was there before the call. */
  async await<S extends number>(foreignId: string, runId: string, status: S, options: AwaitOptions = {}): Promise<TypedRecord<T, S>> {
    const { graph } = this.#ctx;
    const terminal = graph.isTerminal(status);
    // A run reaching a terminal status completes, and completion is announced on the run-state-change topic.
    const watched = terminal ? runStateChangeTopic(this.#ctx.name) : topic(this.#ctx.name, status);
    const signals: AbortSignal[] = [];
    if (options.signal) signals.push(options.signal);
    const timeout = options.timeoutMs === undefined ? undefined : new AbortController();
    if (timeout) {
      const timeoutMs = options.timeoutMs ?? 0;
      signals.push(timeout.signal);
      this.#ctx.clock
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
        const record = await this.#ctx.recordStore.lookup(runId);
        if (record.foreignId !== foreignId) throw new RecordNotFoundError(runId);
        // An event on a status topic proves the run entered that status, even if it moved on since;
        // and a run that finished elsewhere can no longer reach a terminal target, so waiting ends.
        if (record.status === status || (!terminal && seen > 0) || (terminal && isFinished(record.runState))) {
          return decodeRecord<T, S>(this.#ctx, record);
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
        for (const subscription of subscriptions.get(runId) ?? []) subscription.notify();
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
