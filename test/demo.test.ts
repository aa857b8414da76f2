import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { until } from "./support/until.js";

const demo = fileURLToPath(new URL("../examples/demo/main.ts", import.meta.url));
// The demo runs in a temporary directory, where a bare "tsx" would not resolve.
const tsx = import.meta.resolve("tsx");

/** Starts the demo as `npm start` does, in `cwd`, with output collected. */
function startDemo(cwd: string, orders: number) {
  const child = spawn(process.execPath, ["--conditions=source", "--import", tsx, demo], {
    cwd,
    env: { ...process.env, STEPWISE_DEMO_ORDERS: String(orders) },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const output = { stdout: "", stderr: "" };
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => (output.stdout += chunk));
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (output.stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
  return { child, output, exited };
}

test("npm start processes a batch of orders with progress lines, a summary and the diagram path", { timeout: 120_000 }, async () => {
  const cwd = await mkdtemp(join(tmpdir(), "stepwise-demo-"));
  try {
    const run = startDemo(cwd, 60);
    assert.equal(await run.exited, 0, run.output.stderr);
    const { stdout } = run.output;
    assert.match(stdout, /Processing 60 orders/);
    // Not a terminal: plain progress lines instead of a redrawn bar.
    assert.match(stdout, /^\d+\/60 finished \(\d+\/s\): /m);
    assert.ok(!stdout.includes("\u001b["), "no terminal escape codes");
    // Orders 25 and 50 are never paid, orders 20, 40 and 60 are declined, the rest delivered.
    assert.match(stdout, /Done: 55 delivered, 3 payments declined, 2 cancelled unpaid/);
    assert.match(stdout, new RegExp(`diagram \\(Mermaid\\) is in ${join(cwd, "stepwise-demo.mmd").replaceAll("/", "\\/")}`));
    // The last line: what to type next to see these runs in the web UI.
    assert.equal(stdout.trimEnd().split("\n").at(-1), "To look at the runs in the web UI: npx stepwise ui --sqlite stepwise-demo.db");
  } finally {
    await rm(cwd, { recursive: true, force: true });
  }
});

test("after a SIGKILL mid-way, npm start resumes the unfinished orders and finishes them", { timeout: 180_000 }, async () => {
  const cwd = await mkdtemp(join(tmpdir(), "stepwise-demo-"));
  try {
    const first = startDemo(cwd, 300);
    await until("the first progress line", () => /finished \(/.test(first.output.stdout), 60_000);
    first.child.kill("SIGKILL");
    await first.exited;
    assert.doesNotMatch(first.output.stdout, /Done:/, "killed before it finished");

    const second = startDemo(cwd, 300);
    assert.equal(await second.exited, 0, second.output.stderr);
    assert.match(second.output.stdout, /Resuming \d+ unfinished orders from the last run/);
    assert.match(second.output.stdout, /Done: \d+ delivered/);
  } finally {
    await rm(cwd, { recursive: true, force: true });
  }
});
