import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

/** The CLI's entry point, run from the sources. */
export const cliMain = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url));
/** The loader that runs the sources' TypeScript. */
export const tsxLoader = import.meta.resolve("tsx");

export interface Outcome {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `stepwise …` from the sources and collects its output. */
export function stepwise(args: string[]): Promise<Outcome> {
  const child = spawn(process.execPath, ["--conditions=source", "--import", tsxLoader, cliMain, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  const outcome: Outcome = { code: null, stdout: "", stderr: "" };
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => (outcome.stdout += chunk));
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (outcome.stderr += chunk));
  return new Promise((resolve) => child.on("close", (code) => resolve({ ...outcome, code })));
}
