import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, test } from "node:test";
import { Etcd3 } from "etcd3";
import { hasErrorCode, InvalidOptionError } from "stepwise";
import { bundleCases, roleSchedulerCases } from "stepwise/adaptertest";
import { etcd, EtcdRoleScheduler, type EtcdClient } from "stepwise/etcd";
import { postgres } from "stepwise/postgres";
import { whenAborted, within } from "../../src/adaptertest/within.js";
import { failingRunDoesNotBlock, lineRunsComplete } from "../support/end-to-end.js";
import { freshSchema } from "../support/postgres.js";

const hosts = process.env.ETCD_HOSTS ?? "127.0.0.1:2379";
/** Every key of this file lives under it, so runs (and other files) never meet. */
const prefix = `stepwise-test/${randomUUID()}/`;
let client: Etcd3;
/** Another client, for whatever another process would do to the keys. */
let other: Etcd3;
/** The client of each scheduler standing in for a process. */
const memberClients = new Map<EtcdRoleScheduler, Etcd3>();

before(() => {
  client = new Etcd3({ hosts });
  other = new Etcd3({ hosts });
});
after(async () => {
  await other.delete().prefix(prefix);
  client.close();
  other.close();
  for (const own of memberClients.values()) own.close();
});

/** The id of the lease the role's key is attached to, or undefined when nobody holds the role. */
async function holderLease(role: string): Promise<string | undefined> {
  const { kvs } = await other.get(prefix + role).exec();
  return kvs[0]?.lease;
}

for (const c of bundleCases(async () => etcd({ client, prefix, ttl: 2 }), async () => void (await client.get(`${prefix}still-works`)))) {
  test(`etcd: ${c.name}`, c.run);
}
for (const c of roleSchedulerCases(async () => new EtcdRoleScheduler({ client, prefix, ttl: 2 }), {
  // Revoking the holder's lease from another client is how etcd takes a role away; an expiry is
  // the same, only later.
  loseLease: async (_scheduler, role) => {
    const lease = await holderLease(role);
    assert.ok(lease, "the role's key exists while it is held");
    await other.leaseClient.leaseRevoke({ ID: lease });
  },
  // Enough rounds for a leak to show, few enough that a server round trip per await stays cheap.
  leakRounds: 50,
  spread: {
    // A client per scheduler, as each process has its own.
    makeMembers: async (count) =>
      Array.from({ length: count }, () => {
        const own = new Etcd3({ hosts });
        const scheduler = new EtcdRoleScheduler({ client: own, prefix, ttl: 2 });
        memberClients.set(scheduler, own);
        return scheduler;
      }),
    // A closed client renews no lease and deletes nothing, as a process that died.
    crash: async (scheduler) => memberClients.get(scheduler)?.close(),
    takeoverMs: 4_000,
    diagnostic: (message) => console.log(`etcd: ${message}`),
  },
})) {
  test(`etcd: ${c.name}`, c.run);
}

test("etcd: deleting a held role's key from another client aborts the lease and lets a waiter in", async () => {
  const scheduler = new EtcdRoleScheduler({ client, prefix, ttl: 2 });
  const role = `deleted-${randomUUID()}`;
  const holder = await within("a free role", scheduler.await(role, new AbortController().signal));
  const waiting = scheduler.await(role, new AbortController().signal);
  await other.delete().key(prefix + role);
  await within("the holder's lease to abort", whenAborted(holder.signal));
  const next = await within("the role after its key was deleted", waiting);
  assert.equal(next.signal.aborted, false);
  await holder.release();
  assert.equal(next.signal.aborted, false, "the old holder's release leaves the new holder's key alone");
  await next.release();
});

test("etcd: two schedulers on two clients never both hold a role", async () => {
  const role = `contended-${randomUUID()}`;
  const schedulers = [new EtcdRoleScheduler({ client, prefix, ttl: 2 }), new EtcdRoleScheduler({ client: other, prefix, ttl: 2 })];
  let holding: AbortSignal | undefined;
  const grants = [0, 0];
  const contend = async (index: number) => {
    const scheduler = schedulers[index] as EtcdRoleScheduler;
    for (let round = 0; round < 15; round++) {
      const lease = await scheduler.await(role, AbortSignal.timeout(10_000));
      assert.ok(holding === undefined || holding.aborted, "the other scheduler's lease ended before this one began");
      holding = lease.signal;
      grants[index] = (grants[index] ?? 0) + 1;
      // Hold across a round trip to etcd, so the other scheduler's attempts meet a held key. Both
      // want the role, so it may be handed to the one it is assigned to: then the lease ends first.
      const key = await holderLease(role);
      assert.ok(key !== undefined || lease.signal.aborted, "a held role has its key until its lease ends");
      holding = undefined;
      await lease.release();
    }
  };
  await within("30 grants between two schedulers", Promise.all([contend(0), contend(1)]));
  assert.deepEqual(grants, [15, 15]);
  assert.equal(await holderLease(role), undefined, "the last release deleted the key");
});

test("etcd: a lease whose renewals stop aborts before etcd could expire it, and the role moves on", async () => {
  // The same client with renewals off: the lease is granted, then never renewed.
  const unrenewed: EtcdClient = {
    lease: (ttl) => client.lease(ttl, { autoKeepAlive: false }),
    if: (key, column, cmp, value) => client.if(key, column, cmp, value),
    put: (key) => client.put(key),
    get: (key) => client.get(key),
    getAll: () => client.getAll(),
    delete: () => client.delete(),
    watch: () => client.watch(),
  };
  const role = `unrenewed-${randomUUID()}`;
  const holder = await within("a free role", new EtcdRoleScheduler({ client: unrenewed, prefix, ttl: 1 }).await(role, new AbortController().signal));
  const lease = await holderLease(role);
  await within("the unrenewed lease to abort", whenAborted(holder.signal));
  assert.ok(hasErrorCode(holder.signal.reason, "ROLE_LOST"), String(holder.signal.reason));
  assert.match((holder.signal.reason as Error).message, /its etcd lease ended/);
  // Awaited only now: a rival awaiting it earlier could be assigned the role and take it over first.
  const rival = new EtcdRoleScheduler({ client: other, prefix, ttl: 2 }).await(role, new AbortController().signal);
  const next = await within("the role for another scheduler", rival);
  assert.notEqual(await holderLease(role), lease, "the role is held on another lease");
  await Promise.all([holder.release(), next.release()]);
});

test("etcd: nothing is left behind: no key for an abandoned wait, none after release, and an idle scheduler's lease is revoked", async () => {
  const scheduler = new EtcdRoleScheduler({ client, prefix, ttl: 2 });
  const role = `tidy-${randomUUID()}`;
  const holder = await within("a free role", scheduler.await(role, new AbortController().signal));
  const lease = await holderLease(role);
  assert.ok(lease);
  const quitter = new AbortController();
  const waiting = scheduler.await(role, quitter.signal);
  const reason = new Error("gave up");
  quitter.abort(reason);
  await assert.rejects(waiting, (err) => err === reason);
  assert.deepEqual(await other.getAll().prefix(prefix + role).keys(), [prefix + role], "only the holder's key exists");
  await holder.release();
  assert.deepEqual(await other.getAll().prefix(prefix + role).keys(), []);
  const { TTL } = await other.leaseClient.leaseTimeToLive({ ID: lease });
  assert.equal(TTL, "-1", "the lease is revoked once the scheduler holds and awaits nothing");
});

test("etcd: etcd() bundles the role scheduler, and a ttl that etcd cannot take is refused", () => {
  assert.ok(etcd({ client, prefix }).roleScheduler instanceof EtcdRoleScheduler);
  assert.throws(() => new EtcdRoleScheduler({ client, ttl: 0 }), /ttl must be a whole number of seconds, at least 1 \(got 0\)/);
  assert.throws(() => new EtcdRoleScheduler({ client, ttl: 1.5 }), InvalidOptionError);
});

test("etcd: 200 runs of a three-step workflow with roles on etcd and the rest on PostgreSQL each complete, each transition stored once", { timeout: 60_000 }, async () => {
  const db = await freshSchema();
  try {
    const adapters = { ...postgres({ pool: db.pool, schema: db.schema }), ...etcd({ client, prefix, ttl: 2 }) };
    await lineRunsComplete(adapters, { runs: 200, name: "etcd-line", outbox: false });
    await failingRunDoesNotBlock(adapters, "etcd-head-of-line");
  } finally {
    await db.drop();
  }
});
