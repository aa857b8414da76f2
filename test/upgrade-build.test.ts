// What build() refuses in a versioned workflow: a bad version, a broken upgrade chain, a status
// map that misses or invents a status (for callers without the compiler's check).
import assert from "node:assert/strict";
import { test } from "node:test";
import { Builder, type UpgradeMap } from "stepwise";
import { memory } from "stepwise/memory";

enum V1Status {
  Unknown = 0,
  Open = 1,
  Waiting = 2,
  Closed = 3,
}
enum Status {
  Unknown = 0,
  Open = 1,
  Closed = 2,
}
type Ticket = { id: string };

const toV2: UpgradeMap<Ticket, typeof V1Status, Ticket, Status> = {
  object: (old) => old,
  status: { Open: Status.Open, Waiting: Status.Open, Closed: Status.Closed },
};

function builder(version: number): Builder<Ticket, Status> {
  const b = new Builder<Ticket, Status>("tickets", Status, { version });
  b.addStep(Status.Open, async () => Status.Closed, Status.Closed);
  return b;
}

/** Throws what build() (or the builder call before it) throws: a BuildError whose message matches. */
function assertRefused(define: () => unknown, message: RegExp): void {
  assert.throws(define, (err: unknown) => {
    assert.ok(err instanceof Error && "code" in err, `expected a StepwiseError, got ${String(err)}`);
    assert.equal(err.code, "BUILD");
    assert.match(err.message, message);
    return true;
  });
}

test("a builder's version is a whole number from 1; without one it is 1", () => {
  for (const bad of [0, -1, 1.5, Number.NaN]) {
    assertRefused(() => new Builder<Ticket, Status>("tickets", Status, { version: bad }), /version must be a whole number from 1/);
  }
  const b = new Builder<Ticket, Status>("tickets", Status);
  b.addStep(Status.Open, async () => Status.Closed, Status.Closed);
  assert.equal(b.build(memory()).name, "tickets");
});

test("build() refuses a version without an upgrade from each older version, naming the missing one", () => {
  assertRefused(() => builder(2).build(memory()), /version 2 but has no upgrade\(1, …\)/);
  const b = builder(3);
  b.upgrade(1, V1Status, { object: (old: Ticket) => old, status: { Open: Status.Open, Waiting: Status.Open, Closed: Status.Closed } });
  assertRefused(() => b.build(memory()), /version 3 but has no upgrade\(2, …\)/);
});

test("an upgrade from a version that is not older than the builder's, or a second one from a version, is refused", () => {
  for (const from of [0, 2, 3]) {
    const b = builder(2);
    b.upgrade(from, V1Status, toV2);
    assertRefused(() => b.build(memory()), /fromVersion must be a whole number from 1 to 1/);
  }
  const twice = builder(2);
  twice.upgrade(1, V1Status, toV2);
  twice.upgrade(1, V1Status, toV2);
  assertRefused(() => twice.build(memory()), /upgrade from version 1 was already added/);
});

test("a status map that leaves out a status, names one the old enum lacks, or maps to no status is refused", () => {
  // upgrade<OldT> names no enum type, so only build() can check the map; without type arguments
  // TypeScript refuses each of these (test/types/upgrade.test-d.ts).
  const maps: [{ readonly [name: string]: number }, RegExp][] = [
    [{ Open: Status.Open, Closed: Status.Closed }, /leaves out Waiting/],
    [{ Open: Status.Open, Waiting: Status.Open, Closed: Status.Closed, Reopened: Status.Open }, /names Reopened, which the old enum lacks/],
    [{ Unknown: Status.Open, Open: Status.Open, Waiting: Status.Open, Closed: Status.Closed }, /names Unknown, which the old enum lacks/],
    [{ Open: Status.Open, Waiting: 0, Closed: Status.Closed }, /Waiting maps to 0, which is not a status/],
  ];
  for (const [status, message] of maps) {
    const b = builder(2);
    b.upgrade<Ticket>(1, V1Status, { object: (old) => old, status });
    assertRefused(() => b.build(memory()), message);
  }
});

test("each upgrade maps to statuses the next version has: this graph's for the last, the next old enum's before", () => {
  const last = builder(2);
  last.upgrade(1, V1Status, { object: (old: Ticket) => old, status: { Open: Status.Open, Waiting: 7 as Status, Closed: Status.Closed } });
  assertRefused(() => last.build(memory()), /upgrade\(1, …\): Waiting maps to 7, which this workflow's graph lacks/);

  enum V3Status {
    Unknown = 0,
    Open = 1,
    Done = 2,
  }
  const b3 = new Builder<Ticket, V3Status>("tickets", V3Status, { version: 3 });
  b3.addStep(V3Status.Open, async () => V3Status.Done, V3Status.Done);
  b3.upgrade<Ticket, typeof V1Status, Ticket, Status>(1, V1Status, {
    object: (old) => old,
    status: { Open: Status.Open, Waiting: 9 as Status, Closed: Status.Closed },
  });
  b3.upgrade(2, Status, { object: (old: Ticket) => old, status: { Open: V3Status.Open, Closed: V3Status.Done } });
  assertRefused(() => b3.build(memory()), /upgrade\(1, …\): Waiting maps to 9, which version 2's status enum/);
});

test("upgrade options are checked like a step's, and refuse what an upgrade consumer cannot honour", () => {
  const b = builder(2);
  const upgrade = b.upgrade(1, V1Status, toV2);
  upgrade.withOptions({ parallelCount: 2, errBackOff: 10 });
  assertRefused(() => upgrade.withOptions({ batchSize: 10 }), /does not take the option "batchSize"/);
  assertRefused(() => upgrade.withOptions({ parallelCount: 0 }), /parallelCount" must be a whole number/);
  assert.equal(b.build(memory()).name, "tickets");
});
