// Keeps `npm run bench` working without running the benchmark itself: 50 runs per backend, and
// no figure is compared with a target (timings belong to docs/benchmarks.md, not to a test).
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { test } from "node:test";
import { promisify } from "node:util";

const run = promisify(execFile);
const npm = process.platform === "win32" ? "npm.cmd" : "npm";
const fields = ["n", "runs_per_s", "transitions_per_s", "seq_p50_ms", "seq_p99_ms", "rss_mb", "cpu_s"];

async function benchLines(backend: string, extra: readonly string[] = []): Promise<{ [field: string]: unknown }[]> {
  const { stdout } = await run(npm, ["run", "bench", "--", "--n", "50", "--json", "--backend", backend, "--timeout-s", "60", ...extra], {
    timeout: 150_000,
    maxBuffer: 1 << 20,
  });
  // npm prints its own "> stepwise@… bench" header; the results are the lines that are JSON objects.
  return stdout
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as { [field: string]: unknown });
}

for (const backend of ["memory", "postgres"]) {
  test(`npm run bench -- --n 50 --json --backend ${backend} prints one line of positive figures`, { timeout: 180_000 }, async () => {
    const lines = await benchLines(backend);
    assert.equal(lines.length, 1, `expected one JSON line, got ${lines.length}`);
    const line = lines[0]!;
    assert.equal(line.system, `stepwise-${backend}`);
    assert.equal(line.n, 50);
    for (const field of fields) {
      const value = line[field];
      assert.ok(typeof value === "number" && Number.isFinite(value) && value > 0, `${field} should be a number > 0, got ${String(value)}`);
    }
  });
}

const measuredWith = [
  { flag: "--tracing", system: "stepwise-memory-tracing", what: "otel()" },
  { flag: "--metrics", system: "stepwise-memory-metrics", what: "prometheus()" },
  { flag: "--schema", system: "stepwise-memory-schema", what: "a zod schema of the object" },
];

for (const { flag, system, what } of measuredWith) {
  test(`npm run bench -- ${flag} measures the memory backend with ${what}`, { timeout: 180_000 }, async () => {
    const lines = await benchLines("memory", [flag]);
    assert.deepEqual(
      lines.map((line) => [line.system, typeof line.runs_per_s === "number" && line.runs_per_s > 0]),
      [[system, true]],
    );
  });
}

test("npm run bench:backpressure prints a line of memory figures per backend and count", { timeout: 120_000 }, async () => {
  const args = ["run", "bench:backpressure", "--", "--backend", "memory", "--runs", "100,300", "--step-ms", "50", "--window-s", "0.3"];
  const { stdout } = await run(npm, args, { timeout: 100_000, maxBuffer: 1 << 20 });
  const lines = stdout
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as { [field: string]: unknown });
  assert.deepEqual(
    lines.map((line) => [line.system, line.runs]),
    [
      ["stepwise-memory", 100],
      ["stepwise-memory", 300],
    ],
  );
  for (const line of lines) {
    for (const field of ["waiting_peak_rss_mb", "waiting_peak_heap_mb", "retained_heap_mb"]) {
      const value = line[field];
      assert.ok(typeof value === "number" && value > 0, `${field} should be a number > 0, got ${String(value)}`);
    }
  }
});

test("npm run bench:ratelimit prints one line of rate-limit figures", { timeout: 150_000 }, async () => {
  const args = ["run", "bench:ratelimit", "--", "--json", "--backend", "sqlite", "--workers", "2", "--parallel", "2"];
  args.push("--max", "40", "--per-ms", "500", "--limited", "200", "--free", "100");
  const { stdout } = await run(npm, args, { timeout: 120_000, maxBuffer: 1 << 20 });
  const lines = stdout
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as { [field: string]: unknown });
  assert.equal(lines.length, 1, `expected one JSON line, got ${lines.length}`);
  const line = lines[0]!;
  assert.deepEqual([line.system, line.limit_max, line.limit_per_ms], ["stepwise-sqlite", 40, 500]);
  for (const field of ["windows", "starts_per_window_mean", "sliding_window_max", "free_alone_runs_per_s", "free_beside_limited_runs_per_s"]) {
    const value = line[field];
    assert.ok(typeof value === "number" && value > 0, `${field} should be a number > 0, got ${String(value)}`);
  }
  assert.equal((line.starts_per_worker as number[]).reduce((sum, n) => sum + n, 0), 200, "every limited run started once");
});
