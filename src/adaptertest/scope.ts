/** Registers a clean-up step to run when the case ends, pass or fail. */
export type Defer = (cleanUp: () => unknown) => void;

/**
 * Runs `body`, then every deferred clean-up in reverse order, even when `body` throws. A clean-up
 * error is reported only when `body` succeeded, so it never hides the failure that caused it.
 */
export async function withScope(body: (defer: Defer) => Promise<void>): Promise<void> {
  const cleanUps: (() => unknown)[] = [];
  let bodyFailure: { error: unknown } | undefined;
  try {
    await body((cleanUp) => cleanUps.push(cleanUp));
  } catch (error) {
    bodyFailure = { error };
  }
  let cleanUpFailure: { error: unknown } | undefined;
  for (const cleanUp of cleanUps.reverse()) {
    try {
      await cleanUp();
    } catch (error) {
      cleanUpFailure ??= { error };
    }
  }
  if (bodyFailure !== undefined) throw bodyFailure.error;
  if (cleanUpFailure !== undefined) throw cleanUpFailure.error;
}
