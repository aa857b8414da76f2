import { InvalidOptionError } from "../../errors.js";
import type { PostgresOptions } from "./driver.js";

const identifier = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The quoted, schema-qualified names of the adapters' tables, and the NOTIFY channel. */
export interface Tables {
  records: string;
  outbox: string;
  timeouts: string;
  events: string;
  cursors: string;
  schemaVersion: string;
  /** Names without schema or quotes, for error messages and index names. */
  bare: { records: string; outbox: string; timeouts: string; events: string; cursors: string; schemaVersion: string };
  schema: string;
  prefix: string;
  channel: string;
}

/** Resolves the table names; schema and prefix must be plain identifiers, so they can be spliced into SQL. */
export function tables(options: Pick<PostgresOptions, "schema" | "prefix">): Tables {
  const schema = options.schema ?? "public";
  const prefix = options.prefix ?? "stepwise_";
  if (!identifier.test(schema)) throw new InvalidOptionError("schema", `postgres: schema "${schema}" must be a plain identifier (letters, digits, _)`);
  if (prefix !== "" && !/^[A-Za-z0-9_]+$/.test(prefix)) throw new InvalidOptionError("prefix", `postgres: prefix "${prefix}" may hold only letters, digits and _`);
  const bare = {
    records: `${prefix}records`,
    outbox: `${prefix}outbox`,
    timeouts: `${prefix}timeouts`,
    events: `${prefix}events`,
    cursors: `${prefix}cursors`,
    schemaVersion: `${prefix}schema_version`,
  };
  const q = (name: string) => `"${schema}"."${name}"`;
  return {
    records: q(bare.records),
    outbox: q(bare.outbox),
    timeouts: q(bare.timeouts),
    events: q(bare.events),
    cursors: q(bare.cursors),
    schemaVersion: q(bare.schemaVersion),
    bare,
    schema,
    prefix,
    channel: `${schema}_${prefix}events`.toLowerCase(),
  };
}
