import { CommanderError } from "commander";

/** What the CLI's exit status says: done, refused (by the store or the run-state rules), or asked wrongly. */
const ExitCode = { ok: 0, refused: 1, usage: 2 } as const;

/**
 * The codes of errors that come from how the command was written (an option's value, a missing
 * store option) rather than from the store: those exit with {@link ExitCode.usage}.
 */
const usageCodes = new Set(["INVALID_OPTION"]);

/** Commander's ways of ending after printing help or the version, which leave nothing to add. */
const printedAlready = new Set(["commander.help", "commander.helpDisplayed", "commander.version"]);

/**
 * The line the CLI prints for a failure, ending in its code so scripts and searches can match it;
 * undefined when commander printed all there is to say (help, the version).
 */
export function failureMessage(err: unknown): string | undefined {
  if (err instanceof CommanderError) return printedAlready.has(err.code) ? undefined : `stepwise: ${err.message.replace(/^error: /, "")} [USAGE]`;
  const message = err instanceof Error ? err.message : String(err);
  const code = codeOf(err);
  return code === undefined ? `stepwise: ${message}` : `stepwise: ${message} [${code}]`;
}

/** The exit status for a failure. */
export function failureExitCode(err: unknown): number {
  if (err instanceof CommanderError) return err.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
  const code = codeOf(err);
  return code !== undefined && usageCodes.has(code) ? ExitCode.usage : ExitCode.refused;
}

/** A StepwiseError's code, or a system error's (ECONNREFUSED, ENOENT, …). */
function codeOf(err: unknown): string | undefined {
  const code = typeof err === "object" && err !== null ? (err as { code?: unknown }).code : undefined;
  return typeof code === "string" && code !== "" ? code : undefined;
}
