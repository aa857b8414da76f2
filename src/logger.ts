/** Where a workflow reports what nobody else can be handed: errors at the top of a process loop. */
export interface Logger {
  debug(message: string, meta?: { readonly [key: string]: unknown }): void;
  error(err: unknown, meta?: { readonly [key: string]: unknown }): void;
}

/** Logs errors to stderr and drops debug lines: the default. */
export const consoleErrorLogger: Logger = {
  debug: () => {},
  error: (err, meta) => console.error("stepwise:", err, meta ?? ""),
};

/** Logs both levels to the console: what `build({ debug: true })` uses. */
export const consoleDebugLogger: Logger = {
  debug: (message, meta) => console.debug("stepwise:", message, meta ?? ""),
  error: consoleErrorLogger.error,
};
