// The short soak: npm run soak over three worker processes, one SIGKILLed every second (SQLite)
// or 2.5 s (PostgreSQL) and replaced, two of PostgreSQL's connections also terminated every second. Every run completes, no effect is
// applied again after its transition was stored, and no run's stored versions skip or repeat.
// The long figures are in docs/reliability.md.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { test } from "node:test";
import { promisify } from "node:util";

const run = promisify(execFile);
/** Every order waits this long at its timeout, so the runs are in flight when the kills come: on an idle machine they would otherwise finish within a second. */
const timeoutMs = 4000;
const npm = process.platform === "win32" ? "npm.cmd" : "npm";

const soaks = [
  { backend: "sqlite", runs: 300, killEveryMs: 1000, faults: [] },
  // Fewer: a worker killed with its connections cut takes longer to come back.
  { backend: "postgres", runs: 100, killEveryMs: 2500, faults: ["--faults", "connections"] },
];

for (const { backend, runs, killEveryMs, faults } of soaks) {
  test(`npm run soak on ${backend}: ${runs} runs survive killed workers${faults.length > 0 ? " and killed connections" : ""}`, { timeout: 150_000 }, async () => {
    const { stdout } = await run(
      npm,
      ["run", "soak", "--", "--backend", backend, "--runs", String(runs), "--workers", "3", "--kill-every-ms", String(killEveryMs), ...faults, "--bound-ms", "120000", "--timeout-ms", String(timeoutMs), "--json"],
      { timeout: 140_000, maxBuffer: 16 << 20 },
    );
    const last = stdout.trim().split("\n").at(-1) ?? "";
    const result = JSON.parse(last) as { [field: string]: unknown };
    assert.deepEqual(Object.keys(result), ["backend", "runs", "completed", "lost", "duplicates", "kills", "faults", "seconds", "max_recovery_ms", "version_gaps"]);
    assert.equal(result.completed, runs);
    assert.equal(result.lost, 0);
    assert.equal(result.duplicates, 0);
    assert.equal(result.version_gaps, 0);
    assert.ok(Number(result.kills) >= 1, `a worker was killed, got ${String(result.kills)} kills`);
    if (faults.length > 0) assert.ok(Number((result.faults as { connections: number }).connections) >= 1, "connections were killed");
  });
}
