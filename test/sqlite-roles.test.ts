import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { after, test } from "node:test";
import Database from "better-sqlite3";
import { ProcessState, RunState } from "stepwise";
import { until } from "./support/until.js";
import { Workers, type Worker } from "./support/workers.js";

const dir = mkdtempSync(join(tmpdir(), "stepwise-sqlite-roles-"));
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** The lease TTL the workers run with, in ms. */
const leaseTtlMs = 1000;

/** Which processes run where: for each process name, the workers in which it is Running. */
async function runningIn(workers: Worker[]): Promise<{ byProcess: Map<string, number[]>; owners: (string | undefined)[]; counts: number[] }> {
  const reports = await Promise.all(workers.map((w) => w.states()));
  const byProcess = new Map<string, number[]>();
  for (const [i, report] of reports.entries()) {
    for (const [name, state] of Object.entries(report.states)) {
      const list = byProcess.get(name) ?? [];
      if (state === ProcessState.Running) list.push(i);
      byProcess.set(name, list);
    }
  }
  const counts = reports.map((report) => Object.values(report.states).filter((s) => s === ProcessState.Running).length);
  return { byProcess, owners: reports.map((r) => r.owner), counts };
}

/** Unexpired lease rows per owner. */
function leasesByOwner(db: Database.Database): Map<string, number> {
  const rows = db.prepare("SELECT owner, count(*) AS n FROM stepwise_leases WHERE expires_at > ? GROUP BY owner").all(Date.now()) as { owner: string; n: number }[];
  return new Map(rows.map((r) => [r.owner, r.n]));
}

test("two processes on one SQLite file: every role runs in exactly one; a SIGKILLed one's roles pass to the other", { timeout: 60_000 }, async (t) => {
  const path = join(dir, "roles.db");
  const args = ["--path", path, "--ttl-ms", String(leaseTtlMs), "--parallel", "2"];
  // Opened before the workers: it creates the empty file they migrate.
  const db = new Database(path);
  const started = new Workers();
  try {
    const workers = [started.start("sqlite", args), started.start("sqlite", args)];
    await Promise.all(workers.map((w) => w.said("ready")));
    // Both started together: the roles spread over the two, half each (give or take one).
    await until(
      "every process to run in one of the two workers, each running half of them",
      async () => {
        const { byProcess, counts } = await runningIn(workers);
        const lists = [...byProcess.values()];
        return lists.every((list) => list.length === 1) && counts.every((n) => Math.abs(n - lists.length / 2) <= 1);
      },
      10_000,
    );

    // Work flows through both (each run's steps may be in either process) while we check, at every
    // look, that no process runs in both and that the lease rows agree with what runs where.
    const runs = 300;
    await Promise.all([workers[0]?.trigger("a", runs / 2), workers[1]?.trigger("b", runs / 2)]);
    let looks = 0;
    await until(
      "every run to complete",
      async () => {
        const { byProcess, owners, counts } = await runningIn(workers);
        looks++;
        for (const [name, list] of byProcess) assert.ok(list.length <= 1, `process ${name} runs in ${list.length} workers at once`);
        const leases = leasesByOwner(db);
        for (const [i, owner] of owners.entries()) {
          // A lease is taken just before its process is marked Running: allow that moment.
          assert.ok((leases.get(owner ?? "") ?? 0) >= (counts[i] ?? 0), `worker ${i} runs more processes than it holds leases`);
        }
        const done = db.prepare("SELECT count(*) AS n FROM stepwise_records WHERE run_state = ?").get(RunState.Completed) as { n: number };
        return done.n === runs;
      },
      30_000,
    );
    // Runs triggered in either worker completed, wherever their steps' roles were.
    const split = (await runningIn(workers)).counts;
    t.diagnostic(`${looks} looks while ${runs} runs completed; processes running per worker: ${split.join(" and ")}`);

    // SIGKILL the worker with more roles: it cannot release them, so they pass on only as its
    // leases and its membership run out.
    const victim = (split[0] ?? 0) >= (split[1] ?? 0) ? 0 : 1;
    const survivor = workers[1 - victim] as Worker;
    const survivorOwner = (await survivor.states()).owner;
    const killedAt = performance.now();
    await workers[victim]?.kill();
    await until(
      "the survivor to run every process",
      async () => Object.values((await survivor.states()).states).every((state) => state === ProcessState.Running),
      10_000,
    );
    t.diagnostic(`takeover after SIGKILL: ${Math.round(performance.now() - killedAt)} ms (lease TTL ${leaseTtlMs} ms)`);
    assert.deepEqual([...leasesByOwner(db).keys()], [survivorOwner], "every live lease is the survivor's");

    // And the survivor does all the work now.
    await survivor.trigger("c", 50);
    await until("the survivor's runs to complete", () => {
      const done = db.prepare("SELECT count(*) AS n FROM stepwise_records WHERE run_state = ?").get(RunState.Completed) as { n: number };
      return done.n === runs + 50;
    }, 20_000);

    // A process that stops cleanly releases its leases, so a newcomer need not wait for them to expire.
    const newcomer = started.start("sqlite", args);
    await newcomer.said("ready");
    const stoppedAt = performance.now();
    await survivor.stop();
    assert.equal(leasesByOwner(db).get(survivorOwner ?? ""), undefined, "the stopped worker holds no lease");
    await until(
      "the newcomer to run every process",
      async () => Object.values((await newcomer.states()).states).every((state) => state === ProcessState.Running),
      10_000,
    );
    t.diagnostic(`takeover after a clean stop: ${Math.round(performance.now() - stoppedAt)} ms`);
    await newcomer.stop();
  } finally {
    await started.killAll();
    db.close();
  }
});
