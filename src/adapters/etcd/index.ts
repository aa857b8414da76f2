import { closeOnce, type Adapters } from "../../adapters.js";
import type { EtcdClient } from "./driver.js";
import { EtcdRoleScheduler } from "./role-scheduler.js";

export type {
  EtcdClient,
  EtcdDelete,
  EtcdGet,
  EtcdGetAll,
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

/**
 * What {@link etcd} returns: the role scheduler, to combine with adapters for the other interfaces,
 * and `close()`. The scheduler revokes its etcd lease once no role is held or awaited, so after
 * `wf.stop()` there is nothing left for `close()` to end; it is there so every bundle shuts down alike.
 */
export interface EtcdAdapters extends Omit<Adapters, "eventStreamer"> {
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
 * const pg = postgres({ pool });
 * const roles = etcd({ client });
 * const wf = b.build({ ...pg, roleScheduler: roles.roleScheduler });
 * // … and on shutdown: await wf.stop(); await roles.close(); await pg.close(); client.close(); await pool.end();
 * ```
 */
export function etcd(options: { client: EtcdClient; prefix?: string; ttl?: number }): EtcdAdapters {
  return { roleScheduler: new EtcdRoleScheduler(options), close: closeOnce(async () => {}) };
}
