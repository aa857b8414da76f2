import { InvalidOptionError } from "../../errors.js";
import type { PostgresOptions } from "./driver.js";

const identifier = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** PostgreSQL's longest identifier (NAMEDATALEN − 1). */
export const maxIdentifierBytes = 63;

/** The index names schema.ts makes, after the prefix; each starts with its table's name after the prefix. */
export const derivedIndexNames = [
  "records_unfinished",
  "records_foreign_id",
  "records_created",
  "records_status",
  "records_run_state",
  "outbox_workflow",
  "timeouts_active",
  "events_topic",
];

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
  // PostgreSQL cuts identifiers past 63 bytes without a word, which would make two index names one
  // (losing the unique index of unfinished runs); a NOTIFY channel past 63 bytes fails outright.
  const channel = `${schema}_${prefix}events`.toLowerCase();
  const derived = [schema, ...Object.values(bare), ...derivedIndexNames.map((name) => prefix + name), channel];
  const tooLong = derived.find((name) => Buffer.byteLength(name) > maxIdentifierBytes);
  if (tooLong) {
    throw new InvalidOptionError(
      schema.length > maxIdentifierBytes || tooLong === channel ? "schema" : "prefix",
      `postgres: schema "${schema}" with prefix "${prefix}" makes the name "${tooLong}" (${Buffer.byteLength(tooLong)} bytes), longer than PostgreSQL's ${maxIdentifierBytes}: shorten the schema or prefix`,
    );
  }
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
    channel,
  };
}
