// `npx stepwise`, run as a user runs it: a child process over a store a workflow filled and left.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { Builder, RunState, type RecordStore } from "stepwise";
import { postgres } from "stepwise/postgres";
import { sqlite } from "stepwise/sqlite";
import type { ActionResult, RunDetail, RunList, RunSummary } from "stepwise/webui";
import { cliMain as main, stepwise, tsxLoader as tsx } from "./support/cli.js";
import { freshSchema } from "./support/postgres.js";
import { until } from "./support/until.js";


enum Status {
  Unknown = 0,
  Created = 1,
  AwaitingPayment = 2,
  Paid = 3,
}
type Order = { id: string };

/** Runs of the fixture: two awaiting payment (Running), one paid (Completed). */
interface Runs {
  waiting: [string, string];
  paid: string;
}

/** A store holding a few runs of the workflow (default "orders"), made by a built workflow that has stopped since. */
async function fillStore(adapters: Parameters<Builder<Order, Status>["build"]>[0], name = "orders"): Promise<Runs> {
  const b = new Builder<Order, Status>(name, Status);
  b.addStep(Status.Created, async () => Status.AwaitingPayment, Status.AwaitingPayment);
  b.addCallback(Status.AwaitingPayment, async () => Status.Paid, Status.Paid);
  const wf = b.build(adapters);
  await wf.run();
  try {
    const ids: string[] = [];
    for (const id of ["order-1", "order-2", "order-3"]) {
      const runId = await wf.trigger(id, { initialValue: { id } });
      await wf.await(id, runId, Status.AwaitingPayment);
      ids.push(runId);
    }
    await wf.callback("order-3", Status.AwaitingPayment, {});
    await wf.await("order-3", ids[2] as string, Status.Paid);
    return { waiting: [ids[0] as string, ids[1] as string], paid: ids[2] as string };
  } finally {
    await wf.stop();
  }
}

/** Runs `stepwise …`, expecting success, and parses its JSON output. */
async function stepwiseJson<T>(args: string[]): Promise<T> {
  const { code, stdout, stderr } = await stepwise([...args, "--json"]);
  assert.equal(code, 0, stderr);
  return JSON.parse(stdout) as T;
}

/** The same cases over each store the CLI opens. */
const stores: { name: string; setUp(): Promise<{ args: string[]; runs: Runs; reopen(): Promise<{ recordStore: RecordStore; close(): Promise<void> }>; tearDown(): Promise<void> }> }[] = [
  {
    name: "sqlite",
    async setUp() {
      const dir = await mkdtemp(join(tmpdir(), "stepwise-cli-"));
      const path = join(dir, "runs.db");
      const adapters = sqlite(path);
      const runs = await fillStore(adapters).finally(() => adapters.close());
      return {
        args: ["--sqlite", path],
        runs,
        reopen: async () => sqlite(path),
        tearDown: () => rm(dir, { recursive: true, force: true }),
      };
    },
  },
  {
    name: "postgres",
    async setUp() {
      const db = await freshSchema();
      const adapters = postgres({ pool: db.pool, schema: db.schema });
      const runs = await fillStore(adapters).finally(() => adapters.close());
      const url = `postgres://${process.env.PGUSER ?? "postgres"}@${process.env.PGHOST ?? "127.0.0.1"}:${process.env.PGPORT ?? 5432}/${process.env.PGDATABASE ?? "test"}`;
      return {
        args: ["--postgres", url, "--schema", db.schema],
        runs,
        reopen: async () => postgres({ pool: db.pool, schema: db.schema }),
        tearDown: () => db.drop(),
      };
    },
  },
];

for (const store of stores) {
  describe(`stepwise CLI over ${store.name}`, { timeout: 300_000 }, () => {
    let fixture: Awaited<ReturnType<(typeof store)["setUp"]>>;
    before(async () => {
      fixture = await store.setUp();
    });
    after(async () => {
      await fixture.tearDown();
    });

    test("runs list prints a table, newest first, and --json the web UI's page", async () => {
      const { code, stdout, stderr } = await stepwise(["runs", "list", ...fixture.args]);
      assert.equal(code, 0, stderr);
      const lines = stdout.trimEnd().split("\n");
      assert.match(lines[0] ?? "", /RUN ID\s+FOREIGN ID\s+STATUS\s+RUN STATE/);
      assert.deepEqual(lines.slice(1).map((line) => line.split(/\s+/)[0]), [fixture.runs.paid, fixture.runs.waiting[1], fixture.runs.waiting[0]]);
      assert.match(stdout, /order-3\s+Paid\s+Completed/);

      const page = await stepwiseJson<RunList>(["runs", "list", ...fixture.args]);
      assert.equal(page.nextCursor, null);
      const paid = page.runs[0] as RunSummary;
      assert.deepEqual(
        { ...paid, createdAt: typeof paid.createdAt, updatedAt: typeof paid.updatedAt },
        {
          workflowName: "orders",
          foreignId: "order-3",
          runId: fixture.runs.paid,
          status: Status.Paid,
          statusName: "Paid",
          runState: RunState.Completed,
          runStateName: "Completed",
          version: paid.version,
          createdAt: "string",
          updatedAt: "string",
        },
      );
    });

    test("runs list filters by status and run state (by name or number), foreign id, and pages", async () => {
      const ids = async (...args: string[]) => (await stepwiseJson<RunList>(["runs", "list", ...fixture.args, ...args])).runs.map((r) => r.runId);
      const [first, second] = fixture.runs.waiting;
      assert.deepEqual(await ids("--status", "AwaitingPayment"), [second, first], "status by name");
      assert.deepEqual(await ids("--status", "3"), [fixture.runs.paid], "status by number");
      assert.deepEqual(await ids("--run-state", "Completed"), [fixture.runs.paid], "run state by name");
      assert.deepEqual(await ids("--run-state", String(RunState.Running)), [second, first], "run state by number");
      assert.deepEqual(await ids("--foreign-id", "order-1", "--workflow", "orders"), [first], "foreign id, with the workflow named");

      const page1 = await stepwiseJson<RunList>(["runs", "list", ...fixture.args, "--limit", "2"]);
      assert.equal(page1.runs.length, 2);
      assert.ok(page1.nextCursor, "a cursor to the next page");
      const page2 = await stepwiseJson<RunList>(["runs", "list", ...fixture.args, "--limit", "2", "--cursor", page1.nextCursor]);
      assert.deepEqual(page2.runs.map((r) => r.runId), [first]);
      assert.equal(page2.nextCursor, null);
    });

    test("runs show prints one run with its object and meta", async () => {
      const run = await stepwiseJson<RunDetail>(["runs", "show", fixture.runs.paid, ...fixture.args]);
      assert.equal(run.runId, fixture.runs.paid);
      assert.deepEqual(run.object, { id: "order-3" });
      assert.equal(run.meta.statusDescription, "Paid");

      const { code, stdout, stderr } = await stepwise(["runs", "show", fixture.runs.paid, ...fixture.args]);
      assert.equal(code, 0, stderr);
      assert.match(stdout, /Paid/);
      assert.match(stdout, /"id": "order-3"/);
    });

    test("runs pause then resume change the stored run", async () => {
      const runId = fixture.runs.waiting[0];
      const paused = await stepwiseJson<ActionResult>(["runs", "pause", runId, "--reason", "checking stock", ...fixture.args]);
      assert.deepEqual(paused, { runState: RunState.Paused, runStateName: "Paused" });
      const reopened = await fixture.reopen();
      try {
        const record = await reopened.recordStore.lookup(runId);
        assert.equal(record.runState, RunState.Paused);
        assert.equal(record.meta.runStateReason, "checking stock");

        const { code, stdout, stderr } = await stepwise(["runs", "resume", runId, ...fixture.args]);
        assert.equal(code, 0, stderr);
        assert.match(stdout, /Running/);
        assert.equal((await reopened.recordStore.lookup(runId)).runState, RunState.Running);
      } finally {
        await reopened.close();
      }
    });

    test("a run-state change the rules refuse exits 1 with INVALID_TRANSITION and changes nothing", async () => {
      const { code, stdout, stderr } = await stepwise(["runs", "pause", fixture.runs.paid, "--reason", "too late", ...fixture.args]);
      assert.equal(code, 1);
      assert.equal(stdout, "");
      assert.match(stderr, /INVALID_TRANSITION/);
      assert.match(stderr, /Completed/);
      const reopened = await fixture.reopen();
      try {
        assert.equal((await reopened.recordStore.lookup(fixture.runs.paid)).runState, RunState.Completed);
      } finally {
        await reopened.close();
      }
    });

    test("an unknown run exits 1 with RECORD_NOT_FOUND", async () => {
      const { code, stderr } = await stepwise(["runs", "show", "no-such-run", ...fixture.args]);
      assert.equal(code, 1);
      assert.match(stderr, /RECORD_NOT_FOUND/);
    });

    test("a usage mistake exits 2 and says what is wrong", async () => {
      const unknown = await stepwise(["runs", "list", "--colour", ...fixture.args]);
      assert.equal(unknown.code, 2);
      assert.match(unknown.stderr, /unknown option '--colour'/);
      const tooMany = await stepwise(["runs", "list", "--limit", "501", ...fixture.args]);
      assert.equal(tooMany.code, 2);
      assert.match(tooMany.stderr, /limit/);
      const noReason = await stepwise(["runs", "cancel", fixture.runs.waiting[1], ...fixture.args]);
      assert.equal(noReason.code, 2);
      assert.match(noReason.stderr, /--reason/);
      const badStatus = await stepwise(["runs", "list", "--status", "Shipped", ...fixture.args]);
      assert.equal(badStatus.code, 2);
      assert.match(badStatus.stderr, /Shipped/);
    });

    test("ui serves the web UI's API with the printed token until SIGTERM", async () => {
      const child = spawn(process.execPath, ["--conditions=source", "--import", tsx, main, "ui", "--port", "0", ...fixture.args], {
        stdio: ["ignore", "pipe", "pipe"],
      });
      let stdout = "";
      let stderr = "";
      child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
      child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
      const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on("close", (code, signal) => resolve({ code, signal })));
      try {
        await until("the URL and the token", () => /Token: \S+/.test(stdout) || child.exitCode !== null, 30_000);
        const url = /(http:\/\/\S+)/.exec(stdout)?.[1];
        const token = /Token: (\S+)/.exec(stdout)?.[1];
        assert.ok(url && token, `printed the URL and token: ${stdout}${stderr}`);

        const refused = await fetch(new URL("api/runs?workflow=orders", url));
        assert.equal(refused.status, 401, "no token, no runs");
        const answer = await fetch(new URL("api/runs?workflow=orders", url), { headers: { authorization: `Bearer ${token}` } });
        assert.equal(answer.status, 200);
        const page = (await answer.json()) as RunList;
        assert.equal(page.runs.length, 3);
      } finally {
        child.kill("SIGTERM");
        const { code, signal } = await exited;
        assert.deepEqual({ code, signal }, { code: 0, signal: null }, `exits cleanly on SIGTERM: ${stderr}`);
      }
    });
  });
}

test("a SQLite path with no file behind it exits 2 and creates nothing", async () => {
  const dir = await mkdtemp(join(tmpdir(), "stepwise-cli-"));
  try {
    const path = join(dir, "typo.db");
    const { code, stderr } = await stepwise(["runs", "list", "--sqlite", path]);
    assert.equal(code, 2);
    assert.match(stderr, /no SQLite file/);
    assert.ok(!existsSync(path), "no empty database was made");
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("--sqlite and --postgres together exit 2", async () => {
  const { code, stderr } = await stepwise(["runs", "list", "--sqlite", "a.db", "--postgres", "postgres://localhost/x"]);
  assert.equal(code, 2);
  assert.match(stderr, /cannot be used with/);
});

test("with several workflows in the store, --workflow names one, and leaving it out lists them", async () => {
  const dir = await mkdtemp(join(tmpdir(), "stepwise-cli-"));
  try {
    const path = join(dir, "runs.db");
    const adapters = sqlite(path);
    await fillStore(adapters, "orders");
    const refunds = await fillStore(adapters, "refunds").finally(() => adapters.close());

    const unnamed = await stepwise(["runs", "list", "--sqlite", path]);
    assert.equal(unnamed.code, 2);
    assert.match(unnamed.stderr, /2 workflows \(orders, refunds\): name one with --workflow \[INVALID_OPTION\]/);
    const page = await stepwiseJson<RunList>(["runs", "list", "--sqlite", path, "--workflow", "refunds"]);
    assert.deepEqual(page.runs.map((r) => r.runId), [refunds.paid, refunds.waiting[1], refunds.waiting[0]]);
    const unknown = await stepwise(["runs", "list", "--sqlite", path, "--workflow", "returns"]);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /WORKFLOW_NOT_FOUND/);
    const otherWorkflow = await stepwise(["runs", "show", refunds.paid, "--sqlite", path, "--workflow", "orders"]);
    assert.equal(otherWorkflow.code, 1, "a run of another workflow is not found");
    assert.match(otherWorkflow.stderr, /RECORD_NOT_FOUND/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
