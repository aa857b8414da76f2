import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const examplesDir = join(root, "examples");
const limitMs = 60_000;

/** What a few examples must print, beyond exiting 0. */
const expectedOutput: { [file: string]: RegExp } = {
  "chaos.ts": /^all 20 runs completed exactly once despite [1-9]\d* injected faults$/m,
  "gettingstarted.ts": /^order order-1 is Shipped with receipt-order-1$/m,
  "metrics.ts": /^metrics served: workflow_runs\{workflow_name="order-processing",status="Shipped"\} 2$/m,
  "schema.ts": /^trigger refused \(INVALID_OBJECT\): .*\ncallback refused \(INVALID_PAYLOAD\): .*\nclaim of ana for 120 EUR is Approved by bo$/m,
  "rate-limit.ts": /^sent 20 messages with 22 calls; calls per 200 ms: [\d, ]+$/m,
  "versioned.ts": /^chair is Approved at 12\.50 EUR, stored as version 2$/m,
};

interface Outcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs one example as a user would, with the package's imports resolved to the sources. */
function runExample(file: string): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--conditions=source", "--import", "tsx", file], {
      cwd: root,
      // The child is killed at the limit, so an example that never exits fails instead of hanging the suite.
      timeout: limitMs,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

const examples = readdirSync(examplesDir).filter((name) => name.endsWith(".ts")).sort();

test("every example with an expected output exists", () => {
  for (const name of Object.keys(expectedOutput)) assert.ok(examples.includes(name), `examples/${name} is missing`);
});

for (const name of examples) {
  test(`example ${name} runs to completion and exits 0`, { timeout: limitMs + 5_000 }, async () => {
    const outcome = await runExample(join(examplesDir, name));
    assert.equal(
      outcome.code,
      0,
      `${name} exited with code ${outcome.code}${outcome.signal ? ` (signal ${outcome.signal}, limit ${limitMs} ms)` : ""}\n` +
        `--- stderr ---\n${outcome.stderr}\n--- stdout ---\n${outcome.stdout}`,
    );
    const expected = expectedOutput[name];
    if (expected) assert.match(outcome.stdout, expected, `${name} printed something else:\n${outcome.stdout}`);
  });
}
