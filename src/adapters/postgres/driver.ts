// The slice of `pg` that the Postgres adapters call. A real pg.Pool satisfies these types, and
// `pg` itself is never imported, so it stays an optional peer dependency.

/** A named query: the server keeps its plan for the connection. */
export interface PgQuery {
  name: string;
  text: string;
  values: readonly unknown[];
}

/** Something that runs a query: a pool or a checked-out client. */
export interface PgQueryable {
  query<R = { [column: string]: unknown }>(text: string, values?: readonly unknown[]): Promise<{ rows: R[]; rowCount: number | null }>;
  query<R = { [column: string]: unknown }>(query: PgQuery): Promise<{ rows: R[]; rowCount: number | null }>;
}

/** A notification received on a LISTEN channel. */
export interface PgNotification {
  channel: string;
  payload?: string | undefined;
}

/** A client checked out of the pool, held for LISTEN or for session advisory locks. */
export interface PgClient extends PgQueryable {
  release(err?: Error | boolean): void;
  on(event: "notification", listener: (message: PgNotification) => void): unknown;
  on(event: "error", listener: (err: Error) => void): unknown;
  on(event: "end", listener: () => void): unknown;
  removeListener(event: "notification", listener: (message: PgNotification) => void): unknown;
  removeListener(event: "error", listener: (err: Error) => void): unknown;
  removeListener(event: "end", listener: () => void): unknown;
}

/** The user's pool: stepwise checks clients out of it and never ends it. */
export interface PgPool extends PgQueryable {
  connect(): Promise<PgClient>;
  connect(callback: (err: Error | undefined, client: PgClient | undefined) => void): void;
}

/**
 * Checks a client out with `onError` already listening. With the promise form, a connection the
 * server ends right as it is handed out reports its error before an awaiting caller can listen,
 * and an 'error' nobody listens to ends the process; the callback runs at once.
 */
export function checkOut(pool: PgPool, onError: (err: Error) => void): Promise<PgClient> {
  return new Promise((resolve, reject) => {
    pool.connect((err, client) => {
      if (err || !client) return reject(err ?? new Error("the pool handed out no client"));
      client.on("error", onError);
      resolve(client);
    });
  });
}

/** Where the adapters' tables live: a schema and a table-name prefix. */
export interface PostgresOptions {
  pool: PgPool;
  /** Default "public". */
  schema?: string;
  /** Put before every table name. Default "stepwise_". */
  prefix?: string;
}
