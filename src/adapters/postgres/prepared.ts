import { createHash } from "node:crypto";
import type { PgQuery } from "./driver.js";

/** A statement the server parses and plans once per connection, kept by pg under its name. */
export interface Statement {
  name: string;
  text: string;
}

/** Names the statement after its text, so one name never stands for two texts. Build once, run many times. */
export function statement(text: string): Statement {
  return { name: `stepwise_${createHash("sha1").update(text).digest("hex").slice(0, 24)}`, text };
}

/** The statement with this run's values. */
export function withValues(statement: Statement, values: readonly unknown[]): PgQuery {
  return { name: statement.name, text: statement.text, values };
}
