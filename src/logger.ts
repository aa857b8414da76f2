/** Structured fields of a log line. */
export type LogFields = { readonly [key: string]: unknown };

/**
 * Where a workflow reports what nobody else can be handed: errors at the top of a process loop, runs
 * set aside, and (under `debug`) every step of its work. The message alone says what happened, so a
 * logger that drops the fields (pino, given a message first, does) still tells the story; the
 * fields carry it for those that keep them. A pino, winston or console-like logger fits as it is.
 */
export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

/** Logs to the console: errors and warnings to stderr, the rest to stdout. The default. */
export const consoleLogger: Logger = {
  debug: (message, fields) => console.debug("stepwise:", message, fields ?? ""),
  info: (message, fields) => console.info("stepwise:", message, fields ?? ""),
  warn: (message, fields) => console.warn("stepwise:", message, fields ?? ""),
  error: (message, fields) => console.error("stepwise:", message, fields ?? ""),
};

const quiet = (): void => {};

/**
 * The logger a workflow writes to: the given one (or the console), with debug lines passed on only
 * under `build({ debug: true })`, so a custom logger is not flooded by default.
 */
export function workflowLogger(logger: Logger | undefined, debug: boolean): Logger {
  const target = logger ?? consoleLogger;
  if (debug) return target;
  return {
    debug: quiet,
    info: (message, fields) => target.info(message, fields),
    warn: (message, fields) => target.warn(message, fields),
    error: (message, fields) => target.error(message, fields),
  };
}

/** The one-line text of a thrown value, for a message that must make sense without its fields. */
export function errorText(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}
