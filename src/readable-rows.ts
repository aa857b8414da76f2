import { hasErrorCode, MalformedRecordError, MalformedRowsError, type MalformedRow } from "./errors.js";

/**
 * Decodes each raw row of a listing. A row `decode` refuses as malformed does not cost the others
 * their answer: the rest are decoded, and MalformedRowsError then carries them with the refusals.
 * `idOf` names a row (its run, outbox event or timeout id) in the refusal.
 */
export function decodeRows<Raw, Row>(raws: Iterable<Raw>, decode: (raw: Raw) => Row, idOf: (raw: Raw) => string): Row[] {
  const rows: Row[] = [];
  const malformed: MalformedRow[] = [];
  for (const raw of raws) {
    try {
      rows.push(decode(raw));
    } catch (err) {
      if (!(err instanceof MalformedRecordError)) throw err;
      malformed.push({ id: idOf(raw), error: err });
    }
  }
  if (malformed.length > 0) throw new MalformedRowsError(rows, malformed);
  return rows;
}

/**
 * `then` applied to the rows `decoded` gives (to filter or page them), refusals and all: when some
 * rows were malformed, the MalformedRowsError carries the readable rows after `then`.
 */
export function afterDecoding<Row, Out>(decoded: () => Row[], then: (rows: Row[]) => Out[]): Out[] {
  let rows: Row[];
  try {
    rows = decoded();
  } catch (err) {
    if (!(err instanceof MalformedRowsError)) throw err;
    throw new MalformedRowsError(then(err.readable as Row[]), err.malformed);
  }
  return then(rows);
}

/** What a listing read: every row, or the readable ones of its MalformedRowsError and the refusals beside them. */
export async function readableRows<Row>(listing: Promise<Row[]>): Promise<{ rows: Row[]; malformed: readonly MalformedRow[] }> {
  try {
    return { rows: await listing, malformed: [] };
  } catch (err) {
    // By code rather than instanceof: the store may come from another copy of stepwise.
    if (!hasErrorCode(err, "MALFORMED_ROWS")) throw err;
    const { readable, malformed } = err as MalformedRowsError<Row>;
    return { rows: readable, malformed };
  }
}
