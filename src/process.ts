import { setImmediate as yieldToEventLoop } from "node:timers/promises";
import { waitOver } from "./abort.js";
import { backOffMs } from "./back-off.js";
import type { Clock } from "./clock.js";
import { hasErrorCode } from "./errors.js";
import type { Delivery } from "./event.js";
import { errorText, type Logger } from "./logger.js";
import type { ProcessMetrics } from "./metrics.js";
import type { ResolvedOptions } from "./options.js";
import type { RoleScheduler } from "./rolescheduler.js";
import { ProcessState } from "./process-state.js";
import type { RateLimiter } from "./rate-limit.js";
import { isInShard } from "./shard.js";
import type { SkipReason } from "./skip.js";

/** Where a process gets its work: an event receiver, a connector, or a poller over a store. */
export interface Source<Item> {
  recv(signal: AbortSignal): Promise<Delivery<Item>>;
  close(): Promise<void>;
}

/** One background process: which role it needs, where its work comes from and what it does with it. */
export interface ProcessSpec<Item> {
  /** The key of `states()`: `paid-consumer-1-of-1`. */
  name: string;
  /** Unique across workflows on one RoleScheduler: `orders-2-consumer-1-of-1`. */
  role: string;
  options: ResolvedOptions;
  /** This process's shard (1-based) and the key that places an item in a shard. */
  shard?: { index: number; count: number; key(item: Item): string };
  /** When the item became due (an event's creation, a timeout's expiry), for `lag` and its metric. */
  createdAt?(item: Item): Date;
  open(signal: AbortSignal): Promise<Source<Item>>;
  /**
   * Does the work; returning means the item may be acked, with the reason when the item was let go
   * without acting on it. A throw backs off and redelivers it.
   */
  handle(item: Item, signal: AbortSignal): Promise<SkipReason | void>;
  /** Names the item in debug lines: `{ eventId, runId }`. */
  describe?(item: Item): { readonly [key: string]: unknown };
  /**
   * The run an item is about. Items of one key are handled in order; an item that throws backs off
   * alone while items of other keys go on. Without it, a throw backs off the whole process.
   */
  key?(item: Item): string;
  /** Tells a redelivered item from a new one, so an item already pending is not handled twice. */
  identity?(item: Item): string;
  /**
   * Handles up to `size` items of distinct keys together instead of one at a time with `handle`,
   * with one outcome per item, in order. Needs `key`.
   */
  batch?: { size: number; handle(items: readonly Item[], signal: AbortSignal): Promise<BatchOutcome[]> };
  /**
   * This shard's share of a step's `rateLimit`: a batch takes no more items than will have starts
   * free by the time it is ready to start them, and items over it wait (un-acked, not failed)
   * until starts free up. The handler waits for and counts each start it makes.
   */
  limiter?: RateLimiter;
}

export interface ProcessDeps {
  roleScheduler: RoleScheduler;
  clock: Clock;
  /** Numbers in [0, 1) for jittered back-off: `build({ random })`, `Math.random` by default. */
  random: () => number;
  logger: Logger;
  /** `build({ debug: true })`: log each launch, role change, event, skip and back-off. */
  debug: boolean;
  setState(name: string, state: ProcessState): void;
  /** `build({ metrics })`: this process's instruments; undefined reports nothing. */
  metrics?: ProcessMetrics | undefined;
}

/**
 * The one loop every process kind runs in: await the role, open the source, handle items (in
 * batches where the spec says so) and ack each only after its work (and that of every item before
 * it) is done; on an error of the source,
 * or of an item without a key, log it, back off and start again. Only `stop` ends it. Such errors
 * count in a row for the whole process (there is no run to count them for) until a batch of items
 * is handled again, and `errBackOff` grows with that count.
 */
export async function runProcess<Item>(spec: ProcessSpec<Item>, deps: ProcessDeps, stop: AbortSignal): Promise<void> {
  const { logger } = deps;
  const process = { process: spec.name, role: spec.role };
  let errorsInARow = 0;
  const handled = () => (errorsInARow = 0);
  logger.debug("process launched", process);
  while (!stop.aborted) {
    deps.setState(spec.name, ProcessState.Idle);
    try {
      const lease = await deps.roleScheduler.await(spec.role, stop);
      logger.debug("role taken", process);
      try {
        await consume(spec, deps, AbortSignal.any([stop, lease.signal]), handled);
      } finally {
        if (lease.signal.aborted && !stop.aborted) {
          // A role handed to another process to share the work out is no loss.
          const handedOver = hasErrorCode(lease.signal.reason, "ROLE_HANDED_OVER");
          logger.debug(handedOver ? "role handed over" : "role lost", process);
        }
        await lease.release();
      }
    } catch (err) {
      if (stop.aborted) break;
      deps.metrics?.error();
      logger.error(`process ${spec.name} failed: ${errorText(err)}`, { ...process, err });
      deps.setState(spec.name, ProcessState.Idle);
      const waitMs = backOffMs(spec.options.errBackOff, ++errorsInARow, deps.random);
      logger.debug("backing off", { ...process, errBackOffMs: waitMs, errorsInARow });
      await deps.clock.sleep(waitMs, stop).catch(() => {});
    }
  }
  deps.setState(spec.name, ProcessState.Shutdown);
  logger.debug("process shut down", process);
}

/** A received item on its way: handled once `done`, acked once every item before it is done too. */
interface Pending<Item> {
  delivery: Delivery<Item>;
  key: string | undefined;
  done: boolean;
  /**
   * For a redelivery of an item still pending: the first delivery, whose work stands for both. The
   * copy is never handled, and is acked only once that work is done: on an engine where acking a
   * copy acks the message (or moves a cursor), an early ack would lose the item if this process
   * died before the first delivery's work was stored.
   */
  copyOf?: Pending<Item>;
}

/** A key backing off: when its next try is due (clock time, ms) and how many errors in a row it has had. */
interface Retry {
  dueMs: number;
  errorsInARow: number;
}

/** What a batch did with each of its items, in order: let go (with the reason when skipped), or failed. */
export type BatchOutcome = PromiseSettledResult<SkipReason | void>;

/**
 * How many received items may wait for their ack at once. An item is acked only after every item
 * received before it is done, so a run that keeps failing holds back the acks (never the work) of
 * the items after it, up to this many; then the process waits for it.
 */
export const maxPendingItems = 1000;

/**
 * Receives items and handles them in batches (of one unless the spec batches), acking in receive
 * order once done. A batch takes at most one item per key, so one run's items are handled in order.
 * With `spec.key`, an item that throws backs off alone: it stays pending and is retried after
 * `errBackOff` (grown with its key's errors in a row) while items of other keys go on, and later
 * items of its key wait behind it, so one failing run never holds up the others. Without a key, a
 * throw ends the loop and the whole process backs off. A received item already pending (a
 * redelivery) is not handled again: it is acked with the first delivery once that one's work is
 * done.
 */
async function consume<Item>(spec: ProcessSpec<Item>, deps: ProcessDeps, signal: AbortSignal, handled: () => void): Promise<void> {
  const source = await spec.open(signal);
  deps.setState(spec.name, ProcessState.Running);
  const pending: Pending<Item>[] = [];
  /** The first pending delivery of each item identity. */
  const pendingIds = new Map<string, Pending<Item>>();
  const retries = new Map<string, Retry>();
  const batchSize = spec.batch?.size ?? 1;
  let receiving: Promise<Delivery<Item>> | undefined;
  const admit = async (received: Delivery<Item>): Promise<void> => {
    receiving = undefined;
    const id = spec.identity?.(received.event);
    const key = spec.key?.(received.event);
    const first = id === undefined ? undefined : pendingIds.get(id);
    if (first) {
      pending.push({ delivery: received, key, done: false, copyOf: first });
      return;
    }
    const inShard = !spec.shard || isInShard(spec.shard.key(received.event), spec.shard.index, spec.shard.count);
    const item: Pending<Item> = { delivery: received, key, done: !inShard };
    if (id !== undefined) pendingIds.set(id, item);
    pending.push(item);
  };
  const receive = (): Promise<Delivery<Item>> => {
    if (!receiving) {
      receiving = source.recv(signal);
      // Observed here so a failure while other work runs is not unhandled; awaited below.
      receiving.catch(() => {});
    }
    return receiving;
  };
  try {
    while (!signal.aborted) {
      await ackDone(spec, pending, pendingIds);
      // Take every item the source already has at hand, so a batch holds all of them.
      while (batchSize > 1 && pending.length < maxPendingItems) {
        const received = await readyNow(receive());
        if (!received) break;
        await admit(received);
      }
      const nowMs = deps.clock.now().getTime();
      const room = spec.limiter ? Math.min(batchSize, spec.limiter.room(nowMs)) : batchSize;
      const batch = room > 0 ? nextBatch(pending, retries, nowMs, room) : [];
      if (batch.length > 0) {
        spec.limiter?.batchFormed(nowMs);
        await handleBatch(spec, deps, batch, retries, signal);
        handled();
        // Work that never waits for I/O (SQLite, memory) would otherwise keep timers, sockets
        // and other processes waiting; the batch's writes are done, so this delays only its acks.
        await yieldToEventLoop();
        continue;
      }
      const startsAtMs = spec.limiter?.nextBatchMs(nowMs);
      const window = pending.length < maxPendingItems ? receive() : undefined;
      const received = await receivedOrDue(window, retries, startsAtMs, pending, deps.clock, signal);
      if (received) await admit(received);
    }
  } catch (err) {
    // A lost role or a stop ends the loop quietly; items not yet done stay un-acked and come back.
    if (!signal.aborted) throw err;
  } finally {
    await source.close();
  }
}

/**
 * Acks the done items at the head of the line. Only after the work is stored: an un-acked item
 * comes back, a lost one doesn't. The acks start in receive order and are awaited together, so a
 * batch costs one wait, and a receiver whose acks move a position sees them in order.
 */
async function ackDone<Item>(spec: ProcessSpec<Item>, pending: Pending<Item>[], pendingIds: Map<string, Pending<Item>>): Promise<void> {
  let count = 0;
  while (count < pending.length && isDone(pending[count]!)) count++;
  if (count === 0) return;
  const acks: Promise<void>[] = [];
  for (const item of pending.splice(0, count)) {
    const id = spec.identity?.(item.delivery.event);
    if (id !== undefined && pendingIds.get(id) === item) pendingIds.delete(id);
    acks.push(item.delivery.ack());
  }
  await Promise.all(acks);
}

/** Whether an item's work is stored: its own, or, for a redelivered copy, the first delivery's. */
function isDone<Item>(item: Pending<Item>): boolean {
  return item.done || item.copyOf?.done === true;
}

/**
 * The received item if the source hands it out at once, from what it already holds; undefined
 * if it has to wait for I/O. Waiting a few turns of the microtask queue tells the two apart
 * without the latency of a timer or of a turn of the event loop.
 */
async function readyNow<Item>(receiving: Promise<Delivery<Item>>): Promise<Delivery<Item> | undefined> {
  return Promise.race([receiving, microtaskTurns(readyWithinTurns)]);
}

/** Turns of the microtask queue a receiver may take to hand out an event it holds. */
const readyWithinTurns = 16;

async function microtaskTurns(turns: number): Promise<undefined> {
  for (let i = 0; i < turns; i++) await undefined;
  return undefined;
}

/**
 * The pending items to handle next, at most `size`: each the first not-done item of its key, for
 * keys not backing off. An item without a key goes alone.
 */
function nextBatch<Item>(pending: readonly Pending<Item>[], retries: ReadonlyMap<string, Retry>, nowMs: number, size: number): Pending<Item>[] {
  const batch: Pending<Item>[] = [];
  const seen = new Set<string>();
  for (const item of pending) {
    if (item.done || item.copyOf) continue;
    if (item.key === undefined) {
      if (batch.length === 0) return [item];
      continue;
    }
    if (seen.has(item.key)) continue;
    seen.add(item.key);
    const dueMs = retries.get(item.key)?.dueMs;
    if (dueMs !== undefined && dueMs > nowMs) continue;
    batch.push(item);
    if (batch.length >= size) break;
  }
  return batch;
}

async function handleBatch<Item>(
  spec: ProcessSpec<Item>,
  deps: ProcessDeps,
  batch: Pending<Item>[],
  retries: Map<string, Retry>,
  signal: AbortSignal,
): Promise<void> {
  if (spec.options.lag > 0) batch = await waitForLag(spec, deps.clock, batch, signal);
  const { metrics } = deps;
  const startMs = metrics ? startMeasuring(spec, metrics, deps.clock, batch) : 0;
  const items = batch.map((item) => item.delivery.event);
  const outcomes: BatchOutcome[] = spec.batch ? await spec.batch.handle(items, signal) : [await settle(spec.handle(items[0] as Item, signal))];
  if (metrics) metrics.handled((deps.clock.now().getTime() - startMs) / 1000, batch.length);
  for (const [i, item] of batch.entries()) {
    const outcome = outcomes[i] as BatchOutcome;
    if (outcome.status === "rejected") {
      if (signal.aborted || item.key === undefined) throw outcome.reason;
      metrics?.error();
      // This item alone backs off; the process goes on with the others.
      const fields = { process: spec.name, role: spec.role, key: item.key };
      deps.logger.error(`process ${spec.name} failed on ${item.key}: ${errorText(outcome.reason)}`, { ...fields, err: outcome.reason });
      const errorsInARow = (retries.get(item.key)?.errorsInARow ?? 0) + 1;
      const waitMs = backOffMs(spec.options.errBackOff, errorsInARow, deps.random);
      deps.logger.debug("backing off", { ...fields, errBackOffMs: waitMs, errorsInARow });
      retries.set(item.key, { dueMs: deps.clock.now().getTime() + waitMs, errorsInARow });
      continue;
    }
    if (item.key !== undefined) retries.delete(item.key);
    item.done = true;
    if (metrics && outcome.value) metrics.skipped(outcome.value);
    // Checked first: the line's fields would cost an allocation per event for nobody.
    if (deps.debug) {
      const fields = { process: spec.name, ...spec.describe?.(item.delivery.event) };
      if (outcome.value) deps.logger.debug("event skipped", { ...fields, reason: outcome.value });
      else deps.logger.debug("event consumed", fields);
    }
  }
}

/**
 * Reports the batch's lag (that of its oldest item: the one an alert is about) and returns the
 * clock time (ms) its handling starts at.
 */
function startMeasuring<Item>(spec: ProcessSpec<Item>, metrics: ProcessMetrics, clock: Clock, batch: readonly Pending<Item>[]): number {
  const nowMs = clock.now().getTime();
  const createdAt = spec.createdAt;
  if (createdAt) {
    let oldestMs = Infinity;
    for (const item of batch) oldestMs = Math.min(oldestMs, createdAt(item.delivery.event).getTime());
    const lagMs = Math.max(0, nowMs - oldestMs);
    metrics.lag(lagMs / 1000, lagMs > spec.options.lagAlert);
  }
  return nowMs;
}

function settle<V>(work: Promise<V>): Promise<PromiseSettledResult<V>> {
  return work.then(
    (value) => ({ status: "fulfilled", value }),
    (reason: unknown) => ({ status: "rejected", reason }),
  );
}

/**
 * Waits, or resolves with undefined once a pending item may go: its key's back-off is over and, for
 * a rate-limited step, a start is free (at `startsAtMs`). `receiving` (absent when the window is
 * full) is never cancelled: it is awaited again on the next call.
 */
async function receivedOrDue<Item>(
  receiving: Promise<Delivery<Item>> | undefined,
  retries: ReadonlyMap<string, Retry>,
  startsAtMs: number | undefined,
  pending: readonly Pending<Item>[],
  clock: Clock,
  signal: AbortSignal,
): Promise<Delivery<Item> | undefined> {
  let dueMs = Infinity;
  for (const item of pending) {
    if (item.done || item.copyOf) continue;
    const retryMs = item.key === undefined ? undefined : retries.get(item.key)?.dueMs;
    // Neither backing off nor waiting for a start: the next batch takes it, so no wait is needed.
    if (retryMs === undefined && startsAtMs === undefined) continue;
    dueMs = Math.min(dueMs, Math.max(retryMs ?? -Infinity, startsAtMs ?? -Infinity));
  }
  if (dueMs === Infinity) {
    // Without an item waiting, the window is not full, so a receive is in flight.
    return receiving as Promise<Delivery<Item>>;
  }
  const timer = new AbortController();
  const due = clock.sleep(Math.max(0, dueMs - clock.now().getTime()), AbortSignal.any([signal, timer.signal])).then(() => undefined);
  try {
    return await (receiving ? Promise.race([receiving, due]) : due);
  } finally {
    timer.abort(waitOver);
    due.catch(() => {});
  }
}

/**
 * Waits until the first item of the batch is `lag` old and keeps the items that are by then: the
 * others wait for a later batch.
 */
async function waitForLag<Item>(spec: ProcessSpec<Item>, clock: Clock, batch: Pending<Item>[], signal: AbortSignal): Promise<Pending<Item>[]> {
  const createdAt = spec.createdAt;
  if (!createdAt) return batch;
  const dueMs = (item: Pending<Item>) => createdAt(item.delivery.event).getTime() + spec.options.lag;
  const waitMs = dueMs(batch[0] as Pending<Item>) - clock.now().getTime();
  if (waitMs > 0) await clock.sleep(waitMs, signal);
  const nowMs = clock.now().getTime();
  return batch.filter((item, i) => i === 0 || dueMs(item) <= nowMs);
}
