import { setImmediate as nextTurn } from "node:timers/promises";
import { linkSignals } from "./abort.js";
import { systemClock } from "./clock.js";
import { assignRoles, type RoleMember } from "./role-assignment.js";

export type { RoleMember } from "./role-assignment.js";

/** What {@link RoleMembers.beat} sees: every live member, and which of them is this process. */
export interface MemberListing {
  /** This process's id among `members`. */
  readonly self: string;
  /**
   * Every live member, this one included, with the roles each awaits or holds. An engine may leave
   * out roles this process does not want: they play no part in where its own roles go.
   */
  readonly members: readonly ListedMember[];
}

/** A member as listed, with how long it stays listed unless it beats again, where the engine knows. */
export interface ListedMember extends RoleMember {
  readonly expiresInMs?: number;
}

/**
 * The engine's part of spreading roles over processes: keeping this process listed as a live
 * member with the roles it wants, and listing the others. An engine whose listing expires (a row,
 * key or entry with a TTL) is kept alive by beats; one tied to a session (a lock that dies with
 * its connection) only needs the beats to notice changes. {@link RoleMembership} does the rest.
 */
export interface RoleMembers {
  /** How often this process beats, in ms: a third of the TTL, or how often the engine is polled. */
  readonly beatMs: number;
  /**
   * Lists this process as a live member wanting `roles` (joining, or refreshing its TTL) and
   * resolves with every live member. Rejects when the engine cannot be reached.
   */
  beat(roles: readonly string[]): Promise<MemberListing>;
  /** Stops listing this process, at once. Called once nothing is wanted; a failure is ignored (the listing then expires). */
  leave(): Promise<void>;
  /**
   * For an engine that can tell when members change (a watch): calls `changed` then, so the next
   * beat comes at once instead of at its interval. Returns what stops it. The beats alone must
   * still notice every change, only later.
   */
  watch?(changed: () => void): () => void;
}

/** Where a role goes according to the latest listing. */
export type RoleAssignment =
  | { readonly kind: "mine" }
  | { readonly kind: "theirs"; readonly member: string }
  /** No listing since the role was first wanted; `failure` when the last beat, which was for this role, failed. */
  | { readonly kind: "unknown"; readonly failure?: unknown };

/** The latest listing: who this process is, which roles were sent with it, and where every role goes. */
interface View {
  readonly self: string;
  readonly sent: ReadonlySet<string>;
  readonly assignment: ReadonlyMap<string, string>;
}

/** One stint as a member: from the first wanted role until nothing is wanted (then it leaves). */
interface Stint {
  readonly stop: AbortController;
  /** Settles once the stint's beats stopped and it left. */
  readonly done: Promise<void>;
}

/**
 * This process's membership, written once for every engine: it is a member while it wants any
 * role, beats every {@link RoleMembers.beatMs} (sooner when another member is due to expire, and
 * right away when a role is wanted that the members have not heard of yet), and works out after
 * each beat where every role goes ({@link assignRoles}). `onChange` runs after every beat, so the
 * claims can take roles that became this process's and give back the ones that no longer are.
 */
export class RoleMembership {
  readonly #members: RoleMembers;
  readonly #onChange: () => void;
  /** Roles with a claim in this process. */
  readonly #wanted = new Set<string>();
  #view: View | undefined;
  /** Why the last beat failed, and which roles it was for; cleared by the next beat that succeeds. */
  #failure: { error: unknown; roles: ReadonlySet<string> } | undefined;
  #stint: Stint | undefined;
  /** Aborts to beat now instead of at the next interval. */
  #nudge = new AbortController();
  #idleCheck: Promise<void> | undefined;
  #closed = false;

  constructor(members: RoleMembers, onChange: () => void) {
    this.#members = members;
    this.#onChange = onChange;
  }

  /** A role got its first claim in this process. */
  want(role: string): void {
    this.#wanted.add(role);
    if (this.#closed) return;
    if (this.#stint === undefined || this.#stint.stop.signal.aborted) this.#stint = this.#start(this.#stint);
    else if (!(this.#view?.sent.has(role) ?? false)) this.#nudge.abort();
  }

  /** A role's last claim in this process ended. Once nothing is wanted, the process leaves. */
  unwant(role: string): void {
    this.#wanted.delete(role);
    if (this.#wanted.size > 0 || this.#idleCheck !== undefined) return;
    // Checked a turn later: a process loop gives a role back and awaits it again at once.
    const check = nextTurn().then(async () => {
      this.#idleCheck = undefined;
      if (this.#wanted.size > 0) return;
      await this.#stop();
    });
    this.#idleCheck = check;
  }

  /** Where `role` goes by the latest listing. */
  assignment(role: string): RoleAssignment {
    const view = this.#view;
    if (view === undefined || !view.sent.has(role)) {
      const failure = this.#failure;
      return failure?.roles.has(role) ? { kind: "unknown", failure: failure.error } : { kind: "unknown" };
    }
    const member = view.assignment.get(role);
    if (member === undefined || member === view.self) return { kind: "mine" };
    return { kind: "theirs", member };
  }

  /** Resolves once a pending leave (nothing wanted any more) is done: another process may list members then. */
  async settled(): Promise<void> {
    await this.#idleCheck;
    if (this.#wanted.size === 0) await this.#stint?.done;
  }

  /** Stops beating and leaves; later wants are ignored. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#stop();
  }

  async #stop(): Promise<void> {
    const stint = this.#stint;
    if (stint === undefined) return;
    stint.stop.abort();
    this.#view = undefined;
    this.#failure = undefined;
    await stint.done;
  }

  /** A new stint, after the previous one has left. */
  #start(previous: Stint | undefined): Stint {
    const stop = new AbortController();
    const done = (async () => {
      await previous?.done;
      const unwatch = this.#members.watch?.(() => this.#nudge.abort());
      try {
        await this.#beatUntil(stop.signal);
      } finally {
        unwatch?.();
        await this.#members.leave().catch(ignore);
      }
    })();
    return { stop, done };
  }

  async #beatUntil(stop: AbortSignal): Promise<void> {
    for (;;) {
      // A turn first, so that the roles awaited together (a workflow starting) go in one beat.
      await nextTurn();
      if (stop.aborted) return;
      this.#nudge = new AbortController();
      const roles = [...this.#wanted];
      let listing: MemberListing;
      try {
        listing = await this.#members.beat(roles);
      } catch (error) {
        if (stop.aborted) return;
        // The last view stands: the engine's locks still keep every role to one holder.
        this.#failure = { error, roles: new Set(roles) };
        this.#onChange();
        await this.#pause(this.#members.beatMs, stop);
        continue;
      }
      if (stop.aborted) return;
      const self: RoleMember = { id: listing.self, roles };
      const others = listing.members.filter((m) => m.id !== listing.self);
      this.#view = { self: listing.self, sent: new Set(roles), assignment: assignRoles([self, ...others]) };
      this.#failure = undefined;
      this.#onChange();
      // Beat again when the next member could have expired, to take its roles within its TTL.
      const expiries = others.flatMap((m) => (m.expiresInMs === undefined ? [] : [m.expiresInMs + 1]));
      await this.#pause(Math.min(this.#members.beatMs, ...expiries), stop);
    }
  }

  /** Waits `ms`, or less if nudged or stopped. */
  async #pause(ms: number, stop: AbortSignal): Promise<void> {
    const wake = linkSignals(stop, this.#nudge.signal);
    try {
      await systemClock.sleep(ms, wake.signal);
    } catch {
      // Nudged or stopped: the loop looks at which.
    } finally {
      wake.unlink();
    }
  }
}

/** The roles of a member as engines that store text keep them: a JSON array. */
export function encodeMemberRoles(roles: readonly string[]): string {
  return JSON.stringify(roles);
}

/** Reads {@link encodeMemberRoles}' text back; anything else counts as no roles. */
export function decodeMemberRoles(text: unknown): string[] {
  try {
    const roles: unknown = JSON.parse(String(text));
    return Array.isArray(roles) ? roles.filter((role): role is string => typeof role === "string") : [];
  } catch {
    return [];
  }
}

function ignore(): void {}
