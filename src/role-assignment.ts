import { fnv1a32 } from "./shard.js";

/** A live member of a role scheduler as its engine lists it: who it is and which roles it awaits or holds. */
export interface RoleMember {
  readonly id: string;
  readonly roles: readonly string[];
}

/**
 * Which member each role goes to: the same answer in every process that sees the same members, so
 * the processes agree without talking to each other.
 *
 * A role goes only to a member that wants it. The roles wanted by exactly the same members are
 * shared out among them evenly: each gets the floor or the ceiling of their number divided by
 * the members' (12 roles over 3 members: 4 each). Within that bound a role goes to the member
 * ranking highest for it by rendezvous hashing, so a member joining or leaving moves few roles
 * besides those it takes or gives up. Roles wanted by different sets of members are shared out
 * separately, so a process that runs other workflows neither takes nor skews these.
 *
 * @returns the member id per role, for every role some member wants.
 */
export function assignRoles(members: readonly RoleMember[]): Map<string, string> {
  const wantedBy = new Map<string, string[]>();
  for (const member of members) {
    for (const role of new Set(member.roles)) {
      const ids = wantedBy.get(role);
      if (ids === undefined) wantedBy.set(role, [member.id]);
      else ids.push(member.id);
    }
  }
  // Roles grouped by the exact set of members that want them.
  const groups = new Map<string, { ids: string[]; roles: string[] }>();
  for (const [role, ids] of wantedBy) {
    ids.sort();
    const key = JSON.stringify(ids);
    const group = groups.get(key);
    if (group === undefined) groups.set(key, { ids, roles: [role] });
    else group.roles.push(role);
  }
  const assignment = new Map<string, string>();
  for (const { ids, roles } of groups.values()) shareOut(roles, ids, assignment);
  return assignment;
}

/** Gives each of `roles` to one of `ids`, each id getting the floor or ceiling of the even share. */
function shareOut(roles: string[], ids: readonly string[], assignment: Map<string, string>): void {
  const base = Math.floor(roles.length / ids.length);
  let extras = roles.length % ids.length;
  const load = new Map<string, number>(ids.map((id) => [id, 0]));
  // A fixed order every process shares, unrelated to when roles were first wanted.
  const ordered = roles.map((role) => ({ role, rank: mix(fnv1a32(role)) })).sort((a, b) => a.rank - b.rank || compare(a.role, b.role));
  for (const { role } of ordered) {
    const ranked = ids.map((id) => ({ id, weight: mix(fnv1a32(`${role}\n${id}`)) })).sort((a, b) => b.weight - a.weight || compare(a.id, b.id));
    // The loads add up to roles.length only when every member has its share, so one always has room.
    const { id } = ranked.find(({ id }) => {
      const taken = load.get(id) ?? 0;
      return taken < base || (taken === base && extras > 0);
    }) as { id: string };
    const taken = load.get(id) ?? 0;
    if (taken === base) extras--;
    load.set(id, taken + 1);
    assignment.set(role, id);
  }
}

/** Spreads the bits of an FNV hash (murmur3's finalizer): names that differ in one character rank far apart. */
function mix(hash: number): number {
  let h = hash;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
