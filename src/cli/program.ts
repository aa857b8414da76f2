import { createRequire } from "node:module";
import { Command, InvalidArgumentError, Option } from "commander";
import type { RunAction } from "../webui/run-action.js";
import { actOnRun, type RunActionOptions } from "./run-action.js";
import { showRun } from "./run-show.js";
import { listRuns } from "./runs-list.js";
import { serveUi } from "./ui.js";

/**
 * The `stepwise` command: `runs list|show|pause|resume|cancel|delete` and `ui`, each over an
 * existing store named by `--sqlite FILE` or `--postgres URL`. Usage mistakes throw commander's
 * errors (the caller exits with 2) instead of ending the process.
 */
export function cliProgram(): Command {
  const program = new Command("stepwise")
    .description("Look at and control the runs of stepwise workflows in a store, or serve the web UI over it.")
    .version(packageVersion())
    // Set before the subcommands are made: they inherit it.
    .exitOverride()
    .configureOutput({ outputError: () => {} });

  const runs = program.command("runs").description("list, show and control runs");
  runOptions(runs.command("list").description("list runs, newest first"))
    .option("--status <status>", "only runs in this status (number or name)")
    .option("--run-state <state>", "only runs in this run state (number or name, e.g. Paused)")
    .option("--foreign-id <id>", "only runs of this foreign id")
    .option("--limit <n>", "runs per page, 1 to 500 (default 50)")
    .option("--cursor <cursor>", "the page after the one that printed this cursor")
    .option("--json", "print the page as JSON, as the web UI's /api/runs answers")
    .action(listRuns);
  runOptions(runs.command("show").argument("<runId>").description("show one run with its object and meta"))
    .option("--json", "print the run as JSON, as the web UI's /api/runs/:workflow/:runId answers")
    .action(showRun);
  const actions: [RunAction, string][] = [
    ["pause", "pause a run: its steps, callbacks and timeouts leave it alone until it is resumed"],
    ["resume", "resume a paused run"],
    ["cancel", "cancel a run that has not finished"],
    ["delete", "ask for a finished run's object to be deleted"],
  ];
  for (const [action, description] of actions) {
    const command = runOptions(runs.command(action).argument("<runId>").description(description))
      .option("--json", "print the result as JSON, as the web UI's POST /api/runs/:workflow/:runId/:action answers");
    if (action !== "resume") command.requiredOption("--reason <text>", "why, kept with the run");
    command.action((runId: string, options: RunActionOptions) => actOnRun(action, runId, options));
  }

  storeOptions(program.command("ui").description("serve the web UI over the store until Ctrl-C"))
    .option("--port <port>", "the port to listen on (0: any free port)", port, 3000)
    .option("--host <host>", "the address to listen on", "127.0.0.1")
    .option("--token <token>", "the bearer token every API request must carry (default: a random one, printed)")
    .option("--no-token", "serve without a token, on purpose")
    .action(serveUi);
  return program;
}

/** Adds the options naming the store, which every command takes. */
function storeOptions(command: Command): Command {
  return command
    .addOption(new Option("--sqlite <file>", "an existing stepwise SQLite file").conflicts("postgres"))
    .addOption(new Option("--postgres <url>", "a PostgreSQL connection URL (postgres://user@host/db)"))
    .option("--schema <schema>", "the PostgreSQL schema holding stepwise's tables (default public)");
}

/** Adds the options of every `runs` command: the store's, and the workflow's name. */
function runOptions(command: Command): Command {
  return storeOptions(command).option("--workflow <name>", "the workflow (may be left out when the store holds one)");
}

/** The installed package's version: package.json sits two levels up from both src/cli and dist/cli. */
function packageVersion(): string {
  const manifest: unknown = createRequire(import.meta.url)("../../package.json");
  const version = typeof manifest === "object" && manifest !== null ? (manifest as { version?: unknown }).version : undefined;
  return typeof version === "string" ? version : "unknown";
}

function port(text: string): number {
  const value = Number(text);
  if (!/^\d+$/.test(text) || value > 65_535) throw new InvalidArgumentError("a port is a whole number from 0 to 65535");
  return value;
}
