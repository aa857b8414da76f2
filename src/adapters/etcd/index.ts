import type { EtcdClient } from "./driver.js";
import { EtcdRoleScheduler } from "./role-scheduler.js";

export type {
  EtcdClient,
  EtcdDelete,
  EtcdGet,
  EtcdKeyValue,
  EtcdLease,
  EtcdOperation,
  EtcdPut,
  EtcdTxn,
  EtcdTxnResponse,
  EtcdWatchBuilder,
  EtcdWatcher,
} from "./driver.js";
export { EtcdRoleScheduler, type EtcdRoleSchedulerOptions } from "./role-scheduler.js";

/** What {@link etcd} returns: the role scheduler, to combine with adapters for the other interfaces. */
export interface EtcdAdapters {
  roleScheduler: EtcdRoleScheduler;
}

/**
 * The etcd adapters: etcd only schedules roles, so combine it with a record store, timeout store
 * and event streamer from another adapter. Pass your own client; stepwise never closes it.
 *
 * ```ts
 * import { Etcd3 } from "etcd3";
 * import pg from "pg";
 * import { etcd } from "stepwise/etcd";
 * import { postgres } from "stepwise/postgres";
 * const client = new Etcd3({ hosts: "127.0.0.1:2379" });
 * const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL });
 * const wf = b.build({ ...postgres({ pool }), ...etcd({ client }) });
 * ```
 */
export function etcd(options: { client: EtcdClient; prefix?: string; ttl?: number }): EtcdAdapters {
  return { roleScheduler: new EtcdRoleScheduler(options) };
}
