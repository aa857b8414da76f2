import type { LogFields, Logger } from "stepwise";

/** Drops every line. */
export const quietLogger: Logger = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };

/** Pushes the error of each error or warning line (the message itself when a line names none) onto `errors`. */
export function errorsTo(errors: unknown[]): Logger {
  const keep = (message: string, fields?: LogFields) => void errors.push(fields?.err ?? new Error(message));
  return { ...quietLogger, warn: keep, error: keep };
}
