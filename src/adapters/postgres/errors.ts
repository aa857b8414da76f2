import { SchemaMissingError } from "../../errors.js";
import type { Tables } from "./tables.js";

/** The fields of a server error that the adapters look at. */
interface PgError {
  code?: string;
  constraint?: string;
  table?: string;
  detail?: string;
}

function pgError(err: unknown): PgError {
  return typeof err === "object" && err !== null ? (err as PgError) : {};
}

/**
 * Whether `err` is the server refusing a duplicate on `constraint` (any, when not given). Names are
 * compared ignoring case: an index of a table spelt with capitals that an earlier stepwise made has
 * its name folded to lower case until `migrate` mends it, and the refused write names its own table.
 */
export function isUniqueViolation(err: unknown, constraint?: string): boolean {
  const e = pgError(err);
  return e.code === "23505" && (constraint === undefined || e.constraint?.toLowerCase() === constraint.toLowerCase());
}

/** The server's detail line of an error, such as the key a unique index refused; "" without one. */
export function pgDetail(err: unknown): string {
  const { detail } = pgError(err);
  return typeof detail === "string" ? detail : "";
}

/** A missing table means `migrate()` was not run: say so instead of passing on the server's words. */
export function translateError(err: unknown, t: Tables, table: keyof Tables["bare"]): unknown {
  return pgError(err).code === "42P01" ? new SchemaMissingError(`${t.schema}.${t.bare[table]}`, { cause: err }) : err;
}
