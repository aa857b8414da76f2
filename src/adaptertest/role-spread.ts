import assert from "node:assert/strict";
import { setMaxListeners } from "node:events";
import { performance } from "node:perf_hooks";
import { linkSignals, untilWoken, whenAborted } from "../abort.js";
import { systemClock } from "../clock.js";
import type { Lease, RoleScheduler } from "../rolescheduler.js";
import type { ConformanceCase } from "./case.js";
import { withScope, type Defer } from "./scope.js";
import { uniqueName } from "./unique-name.js";
import { settle, waitLimitMs } from "./within.js";

/** How {@link roleSchedulerCases} runs several schedulers as processes sharing one engine. */
export interface RoleSpreadOptions<R extends RoleScheduler> {
  /**
   * Makes `count` schedulers that stand in for as many processes on one engine: each on its own
   * connection or client (on SQLite, its own database handle on one file), as a process would be.
   */
  makeMembers(count: number): Promise<R[]>;
  /**
   * Stops `scheduler` the way a crash (a SIGKILL) would: its renewals and heartbeats stop and it
   * gives nothing back (destroy its connection, close its client). The case stops awaiting roles
   * on it right after.
   */
  crash(scheduler: R): Promise<void>;
  /**
   * How long the roles of a crashed scheduler may take to reach the others, in ms: about the
   * engine's lease TTL (for locks that end with their connection, how often members are listed),
   * plus the time to notice.
   */
  takeoverMs: number;
  /** Hears what the case measured, in words: for the runner's diagnostics. */
  diagnostic?(message: string): void;
}

/** How many roles the case spreads, and over how many schedulers. */
const roleCount = 12;
const memberCount = 3;

/**
 * The case that roles spread over processes: one scheduler alone gets every role; a second and a
 * third joining each end up with their share (12 roles over 3: 4 each, give or take one), never
 * two holding a role at once; a crashed one's roles go to the others within `takeoverMs`; one
 * stopping cleanly hands its roles over at once.
 */
export function roleSpreadCase<R extends RoleScheduler>(spread: RoleSpreadOptions<R>): ConformanceCase {
  return {
    name: "role scheduler: roles spread evenly over the schedulers sharing the engine, each held once; a crashed one's roles move within one TTL",
    run: () =>
      withScope(async (defer) => {
        const schedulers = await spread.makeMembers(memberCount);
        assert.equal(schedulers.length, memberCount, `makeMembers(${memberCount}) made ${memberCount} schedulers`);
        const roles = Array.from({ length: roleCount }, (_, i) => uniqueName(`spread-${i}`));
        const board = new Board(roles);
        const members = schedulers.map((scheduler, index) => new Member(index, scheduler, board, defer));
        const limitMs = Math.max(waitLimitMs, 3 * spread.takeoverMs);
        const report = (message: string) => spread.diagnostic?.(message);
        const [first, second, third] = members as [Member<R>, Member<R>, Member<R>];

        let startedMs = performance.now();
        first.start();
        await board.until("one scheduler alone to hold every role", () => board.isSpreadOver([first]), limitMs);
        report(`one scheduler alone held all ${roleCount} roles ${Math.round(performance.now() - startedMs)} ms after awaiting them`);

        second.start();
        await board.until("the roles to spread over two schedulers", () => board.isSpreadOver([first, second]), limitMs);
        startedMs = performance.now();
        third.start();
        await board.until("the roles to spread over three schedulers", () => board.isSpreadOver(members), limitMs);
        report(`a third scheduler joining: held ${board.counts(members).join("/")} ${Math.round(performance.now() - startedMs)} ms later`);

        const crashedRoles = second.heldRoles();
        assert.ok(crashedRoles.length > 0, "the scheduler to crash holds roles");
        const crashedMs = performance.now();
        await spread.crash(second.scheduler);
        second.stop();
        await board.until("the crashed scheduler's roles to move to the others", () => board.isSpreadOver([first, third]), limitMs);
        const takeoverMs = performance.now() - crashedMs;
        report(`crash: its ${crashedRoles.length} roles held by the other two ${Math.round(takeoverMs)} ms later (takeoverMs ${spread.takeoverMs})`);
        assert.ok(takeoverMs <= spread.takeoverMs, `the crashed scheduler's roles moved after ${Math.round(takeoverMs)} ms, more than takeoverMs ${spread.takeoverMs}`);

        const stoppedMs = performance.now();
        await first.stopAndRelease();
        await board.until("a stopped scheduler's roles to move to the last one", () => board.isSpreadOver([third]), limitMs);
        report(`clean stop: its roles held by the last scheduler ${Math.round(performance.now() - stoppedMs)} ms later`);

        assert.deepEqual(board.violations, [], "no role was held by two schedulers at once");
      }),
  };
}

/** What every member holds, and the checks made at each grant. */
class Board {
  readonly roles: readonly string[];
  /** Each time a role was granted while another member's lease on it was still valid. */
  readonly violations: string[] = [];
  readonly #members: Member[] = [];
  readonly #changed = new Set<() => void>();
  /** The last error an await rejected with while its member was running, for a failing wait's message. */
  lastError: unknown;

  constructor(roles: readonly string[]) {
    this.roles = roles;
  }

  join(member: Member): void {
    this.#members.push(member);
  }

  granted(member: Member, role: string): void {
    for (const other of this.#members) {
      if (other !== member && other.holds(role)) this.violations.push(`${role} granted to scheduler ${member.index} while scheduler ${other.index} held it`);
    }
    this.changed();
  }

  changed(): void {
    for (const wake of this.#changed) wake();
  }

  /** Every role held by exactly one of `members`, each holding its share give or take one, and no one else holding any. */
  isSpreadOver(members: readonly Member[]): boolean {
    for (const role of this.roles) {
      const holders = this.#members.filter((m) => m.holds(role));
      if (holders.length !== 1 || !members.includes(holders[0] as Member)) return false;
    }
    const share = this.roles.length / members.length;
    return this.counts(members).every((count) => Math.abs(count - share) <= 1);
  }

  counts(members: readonly Member[]): number[] {
    return members.map((m) => m.heldRoles().length);
  }

  /** Waits for `condition`, looking again at each grant or end of a lease. */
  async until(what: string, condition: () => boolean, limitMs: number): Promise<void> {
    // A ref'd timer: the process must not end while a failing wait is pending.
    const limit = new AbortController();
    const done = new AbortController();
    systemClock.sleep(limitMs, done.signal).then(() => limit.abort(), () => undefined);
    try {
      while (!condition()) {
        await untilWoken((wake) => {
          this.#changed.add(wake);
          return () => this.#changed.delete(wake);
        }, limit.signal).catch(() => {
          const held = this.#members.map((m) => `scheduler ${m.index}: ${m.heldRoles().length}`).join(", ");
          const error = this.lastError === undefined ? "" : `; last await error: ${String(this.lastError)}`;
          assert.fail(`waited ${limitMs} ms for ${what} (roles held: ${held}${error})`);
        });
      }
    } finally {
      done.abort();
    }
  }
}

/** One scheduler, standing in for a process: a loop per role that awaits it, holds it until the lease ends, and awaits it again. */
class Member<R extends RoleScheduler = RoleScheduler> {
  readonly index: number;
  readonly scheduler: R;
  readonly #board: Board;
  readonly #stop = new AbortController();
  readonly #held = new Map<string, Lease>();
  #loops: Promise<void>[] = [];

  constructor(index: number, scheduler: R, board: Board, defer: Defer) {
    this.index = index;
    this.scheduler = scheduler;
    this.#board = board;
    board.join(this);
    // One signal for every role's loop, as a workflow's stop signal is.
    setMaxListeners(0, this.#stop.signal);
    defer(() => this.stopAndRelease());
  }

  start(): void {
    this.#loops = this.#board.roles.map((role) => this.#loop(role));
  }

  holds(role: string): boolean {
    const lease = this.#held.get(role);
    return lease !== undefined && !lease.signal.aborted;
  }

  heldRoles(): string[] {
    return this.#board.roles.filter((role) => this.holds(role));
  }

  /** Stops awaiting roles; leases still held end as their awaits' signal aborts. */
  stop(): void {
    this.#stop.abort(new Error("the member stopped"));
  }

  /** Stops, and resolves once every loop released its lease. */
  async stopAndRelease(): Promise<void> {
    this.stop();
    await Promise.all(this.#loops);
  }

  async #loop(role: string): Promise<void> {
    const stop = this.#stop.signal;
    while (!stop.aborted) {
      let lease: Lease;
      try {
        lease = await this.scheduler.await(role, stop);
      } catch (err) {
        if (stop.aborted) return;
        this.#board.lastError = err;
        await settle();
        continue;
      }
      this.#held.set(role, lease);
      this.#board.granted(this, role);
      const ended = linkSignals(lease.signal, stop);
      await whenAborted(ended.signal);
      this.#board.changed();
      await lease.release();
      this.#held.delete(role);
    }
  }
}
