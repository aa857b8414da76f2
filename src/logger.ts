/** Where a workflow reports what nobody else can be handed: errors at the top of a process loop, and debug lines. */
export interface Logger {
  debug(message: string, meta?: { readonly [key: string]: unknown }): void;
  error(err: unknown, meta?: { readonly [key: string]: unknown }): void;
}

/** Logs errors to stderr and debug lines to stdout: the default. */
export const consoleLogger: Logger = {
  debug: (message, meta) => console.debug("stepwise:", message, meta ?? ""),
  error: (err, meta) => console.error("stepwise:", err, meta ?? ""),
};

const quiet = (): void => {};

/**
 * The logger a workflow writes to: the given one (or the console), with debug lines passed on only
 * under `build({ debug: true })`, so a custom logger is not flooded by default.
 */
export function workflowLogger(logger: Logger | undefined, debug: boolean): Logger {
  const target = logger ?? consoleLogger;
  if (debug) return target;
  return { debug: quiet, error: (err, meta) => target.error(err, meta) };
}
