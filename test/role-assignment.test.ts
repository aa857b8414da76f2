import assert from "node:assert/strict";
import { test } from "node:test";
import { assignRoles, type RoleMember } from "../src/role-assignment.js";

const roles = (prefix: string, count: number) => Array.from({ length: count }, (_, i) => `${prefix}-${i}-consumer-1-of-1`);
const counts = (assignment: Map<string, string>, ids: readonly string[]) => ids.map((id) => [...assignment.values()].filter((m) => m === id).length);

test("12 roles awaited by 3 members go 4 to each, and every member works that out the same", () => {
  const wanted = roles("orders", 12);
  const members: RoleMember[] = ["a", "b", "c"].map((id) => ({ id, roles: wanted }));
  const assignment = assignRoles(members);
  assert.deepEqual(counts(assignment, ["a", "b", "c"]), [4, 4, 4]);
  assert.deepEqual([...assignment.keys()].sort(), [...wanted].sort(), "every role goes to someone");
  // Another process lists the members in another order, and its roles in another order.
  const shuffled = assignRoles([...members].reverse().map((m) => ({ id: m.id, roles: [...m.roles].reverse() })));
  assert.deepEqual(new Map([...shuffled].sort()), new Map([...assignment].sort()));
});

test("roles that do not divide evenly go the floor or the ceiling of the share to each member", () => {
  for (const [roleCount, memberCount] of [
    [13, 3],
    [2, 3],
    [7, 2],
    [40, 6],
  ] as const) {
    const wanted = roles(`w${roleCount}`, roleCount);
    const ids = Array.from({ length: memberCount }, (_, i) => `member-${i}`);
    const share = roleCount / memberCount;
    for (const count of counts(assignRoles(ids.map((id) => ({ id, roles: wanted }))), ids)) {
      assert.ok(count === Math.floor(share) || count === Math.ceil(share), `${roleCount} roles over ${memberCount}: one member got ${count}`);
    }
  }
});

test("a member joining takes its share and moves few other roles", () => {
  const wanted = roles("payments", 12);
  const before = assignRoles(["a", "b"].map((id) => ({ id, roles: wanted })));
  const after = assignRoles(["a", "b", "c"].map((id) => ({ id, roles: wanted })));
  const toNewcomer = wanted.filter((role) => after.get(role) === "c");
  const shuffled = wanted.filter((role) => after.get(role) !== "c" && after.get(role) !== before.get(role));
  assert.equal(toNewcomer.length, 4);
  // Bounded-load rendezvous hashing moves a role between the old members only to keep the loads even.
  assert.ok(shuffled.length <= 2, `${shuffled.length} roles moved between the members that stayed`);
});

test("a role goes only to a member that awaits it, and roles awaited by other sets of members are shared out apart", () => {
  const orders = roles("orders", 6);
  const refunds = roles("refunds", 4);
  // c also runs the refunds workflow; a and b do not.
  const assignment = assignRoles([
    { id: "a", roles: orders },
    { id: "b", roles: orders },
    { id: "c", roles: [...orders, ...refunds] },
  ]);
  for (const role of refunds) assert.equal(assignment.get(role), "c", "only c awaits the refunds roles");
  assert.deepEqual(
    ["a", "b", "c"].map((id) => orders.filter((role) => assignment.get(role) === id).length),
    [2, 2, 2],
    "the orders roles are shared evenly, as if the refunds roles were not there",
  );
  assert.equal(assignRoles([]).size, 0);
});
