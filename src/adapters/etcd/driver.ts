// The slice of the `etcd3` client that the etcd adapter calls. A real `Etcd3` client (or a
// `Namespace` of one) satisfies these types, and `etcd3` itself is never imported, so it stays an
// optional peer dependency.
//
// Every builder below is also a thenable in etcd3 (awaiting one runs it), so the adapter passes
// them to a transaction or calls `exec()`/`commit()`, and never awaits or returns a builder.

/** A key-value pair as etcd reports it; revisions and lease ids are decimal strings. */
export interface EtcdKeyValue {
  create_revision: string;
  mod_revision: string;
  /** The id of the lease the key is attached to, "0" for none. */
  lease: string;
}

/** One operation of a transaction (a put, get or delete builder). */
export interface EtcdOperation {
  op(): Promise<object>;
}

/** A transaction: `if(...)` compares, `then(...)`/`else(...)` choose the operations, `commit()` runs it. */
export interface EtcdTxn {
  then(...operations: EtcdOperation[]): EtcdTxn;
  else(...operations: EtcdOperation[]): EtcdTxn;
  commit(): Promise<EtcdTxnResponse>;
}

/** What a committed transaction reports; `header.revision` is the store's revision after it. */
export interface EtcdTxnResponse {
  succeeded: boolean;
  header: { revision: string };
}

/** `client.put(key)`: a put builder, run by `exec()` or used as an operation of a transaction. */
export interface EtcdPut extends EtcdOperation {
  value(value: string): EtcdPut;
  lease(leaseId: string): EtcdPut;
  exec(): Promise<unknown>;
}

/** `client.get(key)`: reads one key. */
export interface EtcdGet extends EtcdOperation {
  exec(): Promise<{ kvs: EtcdKeyValue[] }>;
}

/** `client.delete()`: a delete builder, run by `exec()` or used as an operation of a transaction. */
export interface EtcdDelete extends EtcdOperation {
  key(key: string): EtcdDelete;
  exec(): Promise<unknown>;
}

/** `client.getAll()`: reads every key under a prefix. */
export interface EtcdGetAll {
  prefix(prefix: string): EtcdGetAll;
  /** The keys found, with their values as text. */
  strings(): Promise<{ [key: string]: string }>;
}

/** A lease the client keeps alive until it is revoked or lost. */
export interface EtcdLease {
  /** Resolves with the lease id once etcd granted it. */
  grant(): Promise<string>;
  /** Ends the lease; etcd deletes every key attached to it. */
  revoke(): Promise<void>;
  /** etcd said the lease is gone (expired or revoked), or the client gave up renewing it. */
  on(event: "lost", handler: (err: Error) => void): unknown;
  /** A renewal failed; the client retries, but the lease may expire meanwhile. */
  on(event: "keepaliveFailed", handler: (err: unknown) => void): unknown;
  /** A renewal was sent. */
  on(event: "keepaliveFired", handler: () => void): unknown;
  /** etcd confirmed a renewal. */
  on(event: "keepaliveSucceeded", handler: (response: { TTL: string }) => void): unknown;
  removeAllListeners(): unknown;
}

/** A watch on one key, streaming its changes from a start revision on. */
export interface EtcdWatcher {
  on(event: "put", handler: (kv: EtcdKeyValue) => void): unknown;
  on(event: "delete", handler: (kv: EtcdKeyValue) => void): unknown;
  on(event: "connected", handler: () => void): unknown;
  on(event: "disconnected", handler: (err: Error) => void): unknown;
  /** The server cancelled the watch (its start revision was compacted, for one). */
  on(event: "error", handler: (err: Error) => void): unknown;
  cancel(): Promise<void>;
}

/** `client.watch()`: builds a watch. */
export interface EtcdWatchBuilder {
  key(key: string): EtcdWatchBuilder;
  prefix(prefix: string): EtcdWatchBuilder;
  only(...operations: "delete"[]): EtcdWatchBuilder;
  startRevision(revision: string): EtcdWatchBuilder;
  /** Starts the watch and returns it at once, so listeners are in place before any event. */
  watcher(): EtcdWatcher;
}

/**
 * The user's etcd client: an `Etcd3` from the `etcd3` package, or a `namespace(prefix)` of one.
 * stepwise opens leases and watches on it and never closes it.
 */
export interface EtcdClient {
  lease(ttl: number, options?: { autoKeepAlive?: boolean }): EtcdLease;
  if(key: string, column: "Create", cmp: "==", value: string | number): EtcdTxn;
  put(key: string): EtcdPut;
  get(key: string): EtcdGet;
  getAll(): EtcdGetAll;
  delete(): EtcdDelete;
  watch(): EtcdWatchBuilder;
}
