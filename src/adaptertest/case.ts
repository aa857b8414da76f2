/**
 * One conformance check: a name and a function that throws (an `AssertionError` from
 * `node:assert/strict`) when the adapter does not behave. Runner-agnostic: hand each case to the
 * test function of node:test, vitest or jest.
 *
 * @example
 * ```ts
 * import { test } from "node:test";
 * import { recordStoreCases } from "stepwise/adaptertest";
 * for (const c of recordStoreCases(async () => new MyRecordStore())) test(`mine: ${c.name}`, c.run);
 * ```
 */
export interface ConformanceCase {
  readonly name: string;
  run(): Promise<void>;
}
