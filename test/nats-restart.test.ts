// Faults on a NATS server of the test's own (another port, a temporary data dir), so stopping and
// restarting it disturbs no other test: the server is down when the workflow starts, and it is
// restarted with the same data dir in the middle of a run.
import assert from "node:assert/strict";
import { once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import type { Pool } from "pg";
import { RunState } from "stepwise";
import { nats, NatsEventStreamer } from "stepwise/nats";
import { PostgresRecordStore, PostgresTimeoutStore } from "stepwise/postgres";
import { connectNats, eventually, privateNatsServer } from "./support/nats.js";
import { freshSchema } from "./support/postgres.js";
import { until } from "./support/until.js";
import { lineWorkflowOn, Status } from "./support/workflows.js";
import { errorsTo } from "./support/logger.js";
import { freePort } from "./support/redis.js";
import { Workers } from "./support/workers.js";

/** A nats-server of the test's own, on a free port with a temporary data dir; `remove` stops it and deletes the dir. */
async function ownServer() {
  const dir = await mkdtemp(join(tmpdir(), "stepwise-nats-"));
  const port = await freePort();
  const server = privateNatsServer(port, dir);
  return {
    ...server,
    port,
    url: `127.0.0.1:${port}`,
    remove: async () => {
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** How many runs in the schema are completed. */
async function completedRuns(db: { pool: Pool; schema: string }): Promise<number> {
  const { rows } = await db.pool.query(`SELECT count(*) FROM "${db.schema}".stepwise_records WHERE run_state = $1`, [RunState.Completed]);
  return Number(rows[0].count);
}

test("a NATS server down at start and restarted mid-run: errors are clear, receivers reconnect, every run completes", { timeout: 60_000 }, async (t) => {
  const server = await ownServer();
  await server.start();
  const connection = await connectNats(server.url);
  const db = await freshSchema();
  const errors: unknown[] = [];
  try {
    // Down at start: the connection exists, the server does not answer.
    await server.stop();
    const { wf } = lineWorkflowOn(
      {
        ...nats({ connection, events: { ackWaitMs: 2_000, timeoutMs: 1_000 }, roles: { ttlMs: 1_000 } }),
        recordStore: new PostgresRecordStore({ pool: db.pool, schema: db.schema }),
        timeoutStore: new PostgresTimeoutStore({ pool: db.pool, schema: db.schema }),
      },
      {
        name: "restart",
        stepOptions: { parallelCount: 2 },
        config: {
          logger: errorsTo(errors),
          defaultOptions: { errBackOff: 50, pollingFrequency: 50 },
        },
      },
    );
    await wf.run();
    const runs = 300;
    for (let i = 0; i < runs; i++) await wf.trigger(`item-${i}`, { initialValue: { id: `item-${i}`, count: 0 } });
    await until("the workflow to report that NATS is unavailable", () => errors.length > 0, 20_000);
    const first = errors[0] as { code?: string; message?: string };
    assert.equal(first.code, "JETSTREAM_UNAVAILABLE", `a clear error, got: ${String(first.message ?? first)}`);
    t.diagnostic(`while the server was down: ${first.message}`);

    const completed = () => completedRuns(db);
    await server.start();
    await eventually("a third of the runs to complete", async () => (await completed()) >= runs / 3, 30_000);

    // Restarted with the same data dir, in the middle of the run.
    await server.stop();
    const restartedAt = Date.now();
    await server.start();
    await eventually("every run to complete after the restart", async () => (await completed()) === runs, 40_000);
    for (const m of new Set(errors.map((e) => String((e as Error).message).slice(0, 160)))) t.diagnostic(`err: ${m}`);
    t.diagnostic(`all ${runs} runs completed ${Date.now() - restartedAt} ms after the server came back`);

    const { rows } = await db.pool.query(`SELECT status, version FROM "${db.schema}".stepwise_records`);
    assert.equal(rows.length, runs);
    for (const row of rows) {
      assert.equal(row.status, Status.Done);
      assert.equal(row.version, 4);
    }
    await wf.stop();
  } finally {
    await connection.close();
    await db.drop();
    await server.remove();
  }
});

test("a worker started while its NATS server is down waits for it, then runs", { timeout: 90_000 }, async () => {
  const server = await ownServer();
  const db = await freshSchema();
  const workers = new Workers();
  // Stands in for the server while it is down: it shows that the worker tried to connect, and ends
  // every connection at once.
  const down = createServer((socket) => socket.destroy());
  down.listen(server.port, "127.0.0.1");
  await once(down, "listening");
  try {
    const worker = workers.start("nats", ["--schema", db.schema, "--nats-url", server.url, "--prefix", "down", "--trigger", "10"]);
    await once(down, "connection");
    down.close();
    await once(down, "close");
    await server.start();
    await worker.said("triggered");
    await eventually("the worker's 10 runs to complete", async () => (await completedRuns(db)) === 10, 30_000);
  } finally {
    if (down.listening) down.close();
    await workers.killAll();
    await db.drop();
    await server.remove();
  }
});

test("a send made while the NATS server is down fails once the connection is back, not after its timeout", { timeout: 90_000 }, async () => {
  const server = await ownServer();
  await server.start();
  const connection = await connectNats(server.url);
  try {
    const timeoutMs = 30_000;
    const streamer = new NatsEventStreamer({ connection, prefix: "lost", timeoutMs });
    const sender = await streamer.newSender("answers-1");
    await server.stop();
    // The client queues the request while it is disconnected, and throws the queue away when it dials again.
    const sending = sender.send("a", 1, { run_id: "r", record_version: "1" }).then(
      () => undefined,
      (err: unknown) => err,
    );
    await server.start();
    const upAt = Date.now();
    const failure = (await sending) as { code?: string } | undefined;
    const waitedMs = Date.now() - upAt;
    assert.equal(failure?.code, "JETSTREAM_UNAVAILABLE");
    assert.ok(waitedMs < timeoutMs / 2, `failed ${waitedMs} ms after the server was back, not after its ${timeoutMs} ms timeout`);
    // Tried again, it goes through.
    await sender.send("a", 1, { run_id: "r", record_version: "2" });
  } finally {
    await connection.close();
    await server.remove();
  }
});
