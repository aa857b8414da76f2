// Starts benchmark children and collects their JSON lines. Each system runs in a process of its
// own, so peak RSS and CPU time are that system's alone.
import { spawn } from "node:child_process";
import { mkdir, readFile, rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { resultFields, type BenchResult } from "./measure.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

/** How to start bench/stepwise.ts, and what to remove afterwards. */
export interface StepwiseCommand {
  argv: string[];
  /** "bundle": plain node runs a JavaScript bundle; "tsx": the TypeScript loader runs in the child. */
  loader: "bundle" | "tsx";
  dispose(): Promise<void>;
}

/**
 * Bundles bench/stepwise.ts with the stepwise sources into one JavaScript file, so the measured
 * process is plain node: the tsx loader alone adds ~50 MB of RSS and its start-up CPU to every
 * child, which the peers (plain JavaScript) don't pay. esbuild is what tsx itself transpiles
 * with; without it the child runs under tsx and its line says "loader":"tsx".
 */
export async function prepareStepwiseCommand(): Promise<StepwiseCommand> {
  const tsx: StepwiseCommand = {
    argv: [process.execPath, "--conditions=source", "--import", "tsx", join(root, "bench", "stepwise.ts")],
    loader: "tsx",
    dispose: async () => {},
  };
  const esbuild = await import("esbuild").catch(() => undefined);
  if (!esbuild) return tsx;
  // Inside node_modules, so the bundle's bare imports (pg, mysql2, better-sqlite3) resolve as the sources' do.
  const dir = join(root, "node_modules", ".cache", "stepwise-bench");
  const outfile = join(dir, `stepwise-${process.pid}-${Date.now()}.mjs`);
  const pkg = JSON.parse(await readFile(join(root, "package.json"), "utf8")) as { exports: { [path: string]: { source: string } } };
  await mkdir(dir, { recursive: true });
  await esbuild.build({
    entryPoints: [join(root, "bench", "stepwise.ts")],
    outfile,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    logLevel: "warning",
    plugins: [
      {
        name: "stepwise-sources",
        setup(build) {
          // "stepwise" and "stepwise/x" come from the sources (the "source" export condition); every other package stays external.
          build.onResolve({ filter: /^[^./]/ }, (args) => {
            const entry = args.path === "stepwise" ? "." : args.path.startsWith("stepwise/") ? `./${args.path.slice("stepwise/".length)}` : undefined;
            if (entry === undefined) return { path: args.path, external: true };
            const source = pkg.exports[entry]?.source;
            if (!source) return { errors: [{ text: `package.json exports no "${entry}"` }] };
            return { path: join(root, source) };
          });
        },
      },
    ],
  });
  return { argv: [process.execPath, outfile], loader: "bundle", dispose: () => rm(outfile, { force: true }) };
}

/** Checks a line is a result: the issue's fields, `system` a string and the rest numbers. */
export function parseResult(line: string): BenchResult | undefined {
  if (!line.startsWith("{")) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof value !== "object" || value === null) return undefined;
  const fields = value as { [field: string]: unknown };
  if (typeof fields.system !== "string") return undefined;
  for (const field of [...resultFields.slice(1), "cpu_s"]) if (typeof fields[field] !== "number") return undefined;
  return value as BenchResult;
}

/**
 * Runs one child to the end and returns its result line. The child's stderr passes through;
 * a child still running after `timeoutMs` is killed. `env` adds to this process's environment.
 */
export async function runChild(argv: readonly string[], options: { timeoutMs: number; cwd?: string; env?: NodeJS.ProcessEnv }): Promise<BenchResult> {
  const [command, ...args] = argv;
  const child = spawn(command!, args, { cwd: options.cwd ?? root, env: { ...process.env, ...options.env }, stdio: ["ignore", "pipe", "inherit"] });
  let stdout = "";
  child.stdout.setEncoding("utf8");
  child.stdout.on("data", (chunk: string) => (stdout += chunk));
  const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs);
  const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error }>((resolve) => {
    child.on("error", (error) => resolve({ code: null, signal: null, error }));
    child.on("close", (code, signal) => resolve({ code, signal }));
  });
  clearTimeout(timer);
  const result = stdout.split("\n").map(parseResult).find((r) => r !== undefined);
  if (exit.error) throw new Error(`${argv.join(" ")}: ${exit.error.message}`, { cause: exit.error });
  if (exit.code !== 0 || !result) {
    const how = exit.signal ? `was killed (${exit.signal}${exit.signal === "SIGKILL" ? `, after ${options.timeoutMs} ms?` : ""})` : `exited with ${exit.code}`;
    throw new Error(`${argv.slice(1).join(" ")} ${how}${result ? "" : " without a result line"}`);
  }
  return result;
}

/** Arguments that pass the workload's size on to a child. */
export function workloadArgs(values: { n: string; seq: string; "warm-up": string; "timeout-s": string }): string[] {
  return ["--n", values.n, "--seq", values.seq, "--warm-up", values["warm-up"], "--timeout-s", values["timeout-s"]];
}
