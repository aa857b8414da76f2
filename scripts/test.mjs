// Runs every test file under test/ with node's test runner, TypeScript loaded by tsx and the
// package's own imports ("stepwise", "stepwise/memory", …) resolved to the sources.
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { ensureChromium } from "./chromium.mjs";
import { ensureServices } from "./services.mjs";

function testFiles(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return testFiles(path);
    return entry.name.endsWith(".test.ts") ? [path] : [];
  });
}

await ensureServices();
ensureChromium();
const files = process.argv.length > 2 ? process.argv.slice(2) : testFiles("test").sort();
const result = spawnSync(
  process.execPath,
  ["--conditions=source", "--import", "tsx", "--test", "--test-concurrency=2", ...files],
  { stdio: "inherit" },
);
process.exit(result.status ?? 1);
