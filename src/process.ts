import type { Clock } from "./clock.js";
import type { Delivery } from "./event.js";
import type { Logger } from "./logger.js";
import type { ResolvedOptions } from "./options.js";
import type { RoleScheduler } from "./rolescheduler.js";
import { isInShard } from "./shard.js";
import type { SkipReason } from "./skip.js";

/** What `Workflow.states()` reports for each process. */
export enum ProcessState {
  Unknown = 0,
  Shutdown = 1,
  Running = 2,
  Idle = 3,
}

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
  /** When the item was made, for `lag`. */
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
}

export interface ProcessDeps {
  roleScheduler: RoleScheduler;
  clock: Clock;
  logger: Logger;
  /** `build({ debug: true })`: log each launch, role change, event, skip and back-off. */
  debug: boolean;
  setState(name: string, state: ProcessState): void;
}

/**
 * The one loop every process kind runs in: await the role, open the source, handle items and ack
 * each only after its work (and that of every item before it) is done; on an error of the source,
 * or of an item without a key, log it, back off and start again. Only `stop` ends it.
 */
export async function runProcess<Item>(spec: ProcessSpec<Item>, deps: ProcessDeps, stop: AbortSignal): Promise<void> {
  const { logger } = deps;
  const process = { process: spec.name, role: spec.role };
  logger.debug("process launched", process);
  while (!stop.aborted) {
    deps.setState(spec.name, ProcessState.Idle);
    try {
      const lease = await deps.roleScheduler.await(spec.role, stop);
      logger.debug("role taken", process);
      try {
        await consume(spec, deps, AbortSignal.any([stop, lease.signal]));
      } finally {
        if (lease.signal.aborted && !stop.aborted) logger.debug("role lost", process);
        await lease.release();
      }
    } catch (err) {
      if (stop.aborted) break;
      logger.error(err, process);
      deps.setState(spec.name, ProcessState.Idle);
      logger.debug("backing off", { ...process, errBackOffMs: spec.options.errBackOff });
      await deps.clock.sleep(spec.options.errBackOff, stop).catch(() => {});
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
}

/**
 * How many received items may wait for their ack at once. An item is acked only after every item
 * received before it is done, so a run that keeps failing holds back the acks (never the work) of
 * the items after it, up to this many; then the process waits for it.
 */
export const maxPendingItems = 1000;

/**
 * Receives items and handles them in order, one at a time, acking in receive order once done.
 * With `spec.key`, an item that throws backs off alone: it stays pending and is retried after
 * `errBackOff` while items of other keys go on, and later items of its key wait behind it, so one
 * failing run never holds up the others. Without a key, a throw ends the loop and the whole process
 * backs off. A received item already pending (a redelivery) is dropped.
 */
async function consume<Item>(spec: ProcessSpec<Item>, deps: ProcessDeps, signal: AbortSignal): Promise<void> {
  const source = await spec.open(signal);
  deps.setState(spec.name, ProcessState.Running);
  const pending: Pending<Item>[] = [];
  const pendingIds = new Set<string>();
  /** Keys backing off, with the clock time (ms) at which their next try is due. */
  const retryAt = new Map<string, number>();
  let receiving: Promise<Delivery<Item>> | undefined;
  try {
    while (!signal.aborted) {
      while (pending[0]?.done) {
        const { delivery } = pending.shift() as Pending<Item>;
        if (spec.identity) pendingIds.delete(spec.identity(delivery.event));
        // Ack only after the work is stored: an un-acked item comes back, a lost one doesn't.
        await delivery.ack();
      }
      const next = nextRunnable(pending, retryAt, deps.clock.now().getTime());
      if (next) {
        await handlePending(spec, deps, next, retryAt, signal);
        continue;
      }
      if (!receiving && pending.length < maxPendingItems) {
        receiving = source.recv(signal);
        // Observed here so a failure while other work runs is not unhandled; awaited below.
        receiving.catch(() => {});
      }
      const received = await receivedOrRetryDue(receiving, retryAt, pending, deps.clock, signal);
      if (!received) continue;
      receiving = undefined;
      const id = spec.identity?.(received.event);
      if (id !== undefined && pendingIds.has(id)) {
        await received.ack();
        continue;
      }
      if (id !== undefined) pendingIds.add(id);
      const inShard = !spec.shard || isInShard(spec.shard.key(received.event), spec.shard.index, spec.shard.count);
      pending.push({ delivery: received, key: spec.key?.(received.event), done: !inShard });
    }
  } catch (err) {
    // A lost role or a stop ends the loop quietly; items not yet done stay un-acked and come back.
    if (!signal.aborted) throw err;
  } finally {
    await source.close();
  }
}

/** The first pending item not done whose key is not backing off and has no earlier item waiting. */
function nextRunnable<Item>(pending: readonly Pending<Item>[], retryAt: ReadonlyMap<string, number>, nowMs: number): Pending<Item> | undefined {
  const blocked = new Set<string>();
  for (const item of pending) {
    if (item.done) continue;
    if (item.key === undefined) return item;
    if (blocked.has(item.key)) continue;
    const dueMs = retryAt.get(item.key);
    if (dueMs === undefined || dueMs <= nowMs) return item;
    blocked.add(item.key);
  }
  return undefined;
}

async function handlePending<Item>(
  spec: ProcessSpec<Item>,
  deps: ProcessDeps,
  item: Pending<Item>,
  retryAt: Map<string, number>,
  signal: AbortSignal,
): Promise<void> {
  const { event } = item.delivery;
  if (spec.options.lag > 0) await waitForLag(spec, deps.clock, event, signal);
  let skipped: SkipReason | void;
  try {
    skipped = await spec.handle(event, signal);
  } catch (err) {
    if (signal.aborted || item.key === undefined) throw err;
    // This item alone backs off; the process goes on with the others.
    const fields = { process: spec.name, role: spec.role, key: item.key };
    deps.logger.error(err, fields);
    deps.logger.debug("backing off", { ...fields, errBackOffMs: spec.options.errBackOff });
    retryAt.set(item.key, deps.clock.now().getTime() + spec.options.errBackOff);
    return;
  }
  if (item.key !== undefined) retryAt.delete(item.key);
  item.done = true;
  // Checked first: the line's fields would cost an allocation per event for nobody.
  if (deps.debug) {
    const fields = { process: spec.name, ...spec.describe?.(event) };
    if (skipped) deps.logger.debug("event skipped", { ...fields, reason: skipped });
    else deps.logger.debug("event consumed", fields);
  }
}

/**
 * Waits for the next received item, or until a backing-off item is due (then resolves with
 * undefined). The receive in flight is never cancelled: it is awaited again on the next call.
 */
async function receivedOrRetryDue<Item>(
  receiving: Promise<Delivery<Item>> | undefined,
  retryAt: ReadonlyMap<string, number>,
  pending: readonly Pending<Item>[],
  clock: Clock,
  signal: AbortSignal,
): Promise<Delivery<Item> | undefined> {
  let dueMs = Infinity;
  for (const item of pending) {
    if (!item.done && item.key !== undefined) dueMs = Math.min(dueMs, retryAt.get(item.key) ?? Infinity);
  }
  if (dueMs === Infinity) {
    // Without an item to retry, the window is not full, so a receive is in flight.
    return receiving as Promise<Delivery<Item>>;
  }
  const timer = new AbortController();
  const retry = clock.sleep(Math.max(0, dueMs - clock.now().getTime()), AbortSignal.any([signal, timer.signal])).then(() => undefined);
  try {
    return await (receiving ? Promise.race([receiving, retry]) : retry);
  } finally {
    timer.abort();
    retry.catch(() => {});
  }
}

async function waitForLag<Item>(spec: ProcessSpec<Item>, clock: Clock, item: Item, signal: AbortSignal): Promise<void> {
  const lagMs = spec.options.lag;
  if (!spec.createdAt) return;
  const waitMs = spec.createdAt(item).getTime() + lagMs - clock.now().getTime();
  if (waitMs > 0) await clock.sleep(waitMs, signal);
}
