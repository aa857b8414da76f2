import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { canChangeRunState, isFinished, isStopped, RunState } from "stepwise";
import { propertyParameters } from "./support/properties.js";
import { allowedChanges as allowed, finishedStates as finished, stoppedStates as stopped } from "./support/runstate-model.js";

const names = ["Unknown", "Initiated", "Running", "Paused", "Cancelled", "Completed", "DataDeleted", "RequestedDataDeleted"] as const;
/** The wire numbers of SPEC §3. */
const wire: { [name in (typeof names)[number]]: number } = {
  Unknown: 0,
  Initiated: 1,
  Running: 2,
  Paused: 3,
  Cancelled: 4,
  Completed: 5,
  DataDeleted: 6,
  RequestedDataDeleted: 7,
};

const stateName = fc.constantFrom(...names);
/** A number read off the wire that may not be a run state at all. */
const anyNumber = fc.oneof(fc.integer({ min: -3, max: 12 }), fc.constantFrom(Number.NaN, 1.5, 2 ** 31));

test("the run-state numbers are the wire format of SPEC §3", () => {
  for (const name of names) assert.equal(RunState[name], wire[name], name);
});

test("canChangeRunState allows exactly the changes in SPEC §3's table, for every pair of states", () => {
  // Sixty-four pairs: checked all, not sampled.
  for (const from of names) {
    for (const to of names) {
      assert.equal(canChangeRunState(RunState[from], RunState[to]), allowed.has(`${from}>${to}`), `${from} → ${to}`);
    }
  }
});

test("no state changes to itself, to Unknown or to Initiated", () => {
  fc.assert(
    fc.property(stateName, (state) => {
      assert.equal(canChangeRunState(RunState[state], RunState[state]), false);
      assert.equal(canChangeRunState(RunState[state], RunState.Unknown), false);
      assert.equal(canChangeRunState(RunState[state], RunState.Initiated), false);
    }),
    propertyParameters(50),
  );
});

test("a number that is no run state is never allowed, from or to", () => {
  fc.assert(
    fc.property(anyNumber, stateName, (n, state) => {
      fc.pre(!Object.values(wire).includes(n) || n === 0);
      assert.equal(canChangeRunState(n as RunState, RunState[state]), false);
      assert.equal(canChangeRunState(RunState[state], n as RunState), false);
      assert.equal(isFinished(n as RunState), false);
      assert.equal(isStopped(n as RunState), false);
    }),
    propertyParameters(300),
  );
});

test("isFinished and isStopped name exactly the states of SPEC §3", () => {
  fc.assert(
    fc.property(stateName, (state) => {
      assert.equal(isFinished(RunState[state]), finished.has(state), `finished ${state}`);
      assert.equal(isStopped(RunState[state]), stopped.has(state), `stopped ${state}`);
    }),
    propertyParameters(100),
  );
});

test("a finished run only ever moves between finished states, and a stopped one is never Completed next", () => {
  fc.assert(
    fc.property(stateName, stateName, (from, to) => {
      if (!canChangeRunState(RunState[from], RunState[to])) return;
      if (finished.has(from)) assert.ok(finished.has(to), `${from} → ${to} leaves the finished states`);
      if (stopped.has(from)) assert.notEqual(to, "Completed", `${from} → Completed skips Running`);
    }),
    propertyParameters(300),
  );
});
