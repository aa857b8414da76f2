import type fc from "fast-check";

/**
 * The seed every property runs with unless `FC_SEED` names another: a fixed seed makes a failure
 * in CI the same failure on a laptop. Set `FC_SEED` to explore, `FC_NUM_RUNS` to run longer.
 */
const defaultSeed = 20261128;

/**
 * fast-check parameters for a property: the seed and run count above. A failure prints the shrunk
 * counterexample with its seed and path, to replay it and keep it as a named test.
 */
export function propertyParameters<Ts>(defaultNumRuns: number): fc.Parameters<Ts> {
  return {
    seed: envInteger("FC_SEED") ?? defaultSeed,
    numRuns: envInteger("FC_NUM_RUNS") ?? defaultNumRuns,
  };
}

function envInteger(name: string): number | undefined {
  const text = process.env[name];
  if (text === undefined || text === "") return undefined;
  const value = Number(text);
  if (!Number.isSafeInteger(value)) throw new Error(`${name} must be an integer, got ${JSON.stringify(text)}`);
  return value;
}
