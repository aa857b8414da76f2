// The outbox process against a real NATS server, records on PostgreSQL: what it does when some of
// the events of a batch cannot be sent.
import assert from "node:assert/strict";
import { test } from "node:test";
import { RunState } from "stepwise";
import { nats } from "stepwise/nats";
import { PostgresRecordStore, PostgresTimeoutStore } from "stepwise/postgres";
import { chaosEventStreamer } from "stepwise/testing";
import { quietLogger } from "./support/logger.js";
import { connectNats, eventually, uniquePrefix } from "./support/nats.js";
import { freshSchema } from "./support/postgres.js";
import { lineWorkflowOn, Status } from "./support/workflows.js";

test("outbox: a backlog drains although a few sends of every batch fail", { timeout: 120_000 }, async (t) => {
  const { prefix, removeStreams } = uniquePrefix();
  const connection = await connectNats();
  const db = await freshSchema();
  const runs = 500;
  try {
    const adapters = {
      ...nats({ connection, prefix, roles: { ttlMs: 1_000 } }),
      recordStore: new PostgresRecordStore({ pool: db.pool, schema: db.schema }),
      timeoutStore: new PostgresTimeoutStore({ pool: db.pool, schema: db.schema }),
    };
    const config = { logger: quietLogger, defaultOptions: { errBackOff: 10, pollingFrequency: 50 } };
    // The backlog: runs triggered while no outbox process runs, one event each in the outbox table.
    const { wf: writer } = lineWorkflowOn(adapters, { name: "backlog", config: { ...config, outbox: false } });
    await writer.run();
    await Promise.all(Array.from({ length: runs }, (_, i) => writer.trigger(`b-${i}`, { initialValue: { id: `b-${i}`, count: 0 } })));
    await writer.stop();

    // One send in fifty fails: a batch of a few hundred events almost never goes through whole.
    const eventStreamer = chaosEventStreamer(adapters.eventStreamer, { seed: 3, failRate: 0.02, only: ["send"] });
    const { wf } = lineWorkflowOn({ ...adapters, eventStreamer }, { name: "backlog", config });
    await wf.run();
    try {
      const done = async () => {
        const { rows } = await db.pool.query(`SELECT count(*) FROM "${db.schema}".stepwise_records WHERE run_state = $1 AND status = $2`, [RunState.Completed, Status.Done]);
        return Number(rows[0].count);
      };
      await eventually(`all ${runs} runs to complete`, async () => (await done()) === runs, 90_000, 200);
      const failed = eventStreamer.stats().byMethod.send?.failedBefore ?? 0;
      t.diagnostic(`${failed} sends failed on the way`);
      assert.ok(failed > 0, "some sends failed");
    } finally {
      await wf.stop();
    }
  } finally {
    await removeStreams(connection);
    await connection.close();
    await db.drop();
  }
});
