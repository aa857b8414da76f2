import assert from "node:assert/strict";

/**
 * Asserts that `promise` rejects with an error whose `code` is `code`. Checks the code rather than
 * the class, as users do when two copies of stepwise are installed.
 */
export async function assertRejectsWithCode(promise: Promise<unknown>, code: string, what: string): Promise<void> {
  await assert.rejects(
    promise,
    (err: unknown) => {
      const actual = typeof err === "object" && err !== null && "code" in err ? err.code : undefined;
      assert.equal(actual, code, `${what}: expected an error with code ${code}, got ${String(err)}`);
      return true;
    },
    `${what}: expected a rejection with code ${code}`,
  );
}
