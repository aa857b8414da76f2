// The Kafka adapters against librdkafka's mock cluster (started here), or against the real
// cluster named by KAFKA_BROKERS. Records, timeouts and roles of the workflow tests are on PostgreSQL.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { createServer, connect, type Socket } from "node:net";
import { after, before, describe, test } from "node:test";
import { Kafka, logLevel, type Producer } from "kafkajs";
import { hasErrorCode } from "stepwise";
import { bundleCases, connectorCases, eventStreamerCases } from "stepwise/adaptertest";
import { kafka, KafkaConnector, KafkaEventStreamer, kafkaTopicName, type KafkaEventStreamerOptions } from "stepwise/kafka";
import { PostgresRecordStore, PostgresRoleScheduler, PostgresTimeoutStore } from "stepwise/postgres";
import { testCluster, type TestCluster } from "../support/kafka.js";
import { freshSchema } from "../support/postgres.js";
import { until } from "../support/until.js";
import { failingRunDoesNotBlock, lineRunsComplete } from "../support/end-to-end.js";
import { lineWorkflowOn, Status } from "../support/workflows.js";
import { errorsTo } from "../support/logger.js";

let cluster: TestCluster;
let publisher: Producer;
before(async () => {
  cluster = await testCluster();
  publisher = new Kafka({ clientId: "stepwise-test", brokers: cluster.brokers, logLevel: logLevel.NOTHING }).producer({
    createPartitioner: () => () => 0,
  });
  await publisher.connect();
});
after(async () => {
  await publisher?.disconnect();
  await cluster?.stop();
});

/**
 * The adapters' options for this cluster. The mock cluster cannot hand out producer ids (its
 * metadata names controller 0, a broker that does not exist), so idempotence is on only for a real
 * cluster. Its fetches also wait their full time when empty, so a short wait keeps delivery quick.
 * Sessions are 6 s, the least a broker allows by default (group.min.session.timeout.ms); the mock
 * takes shorter ones but then drops members still waiting out its 3 s first-join delay.
 */
function options(brokers = cluster.brokers): KafkaEventStreamerOptions {
  return { brokers, idempotent: !cluster.mock, sessionTimeoutMs: 6_000, maxWaitTimeMs: cluster.mock ? 50 : 500 };
}

const unique = () => randomBytes(6).toString("hex");

// Cases use their own topics and groups, so they run at once: each waits for its group joins
// (3 s for a new group on the mock cluster, as on a broker with the default
// group.initial.rebalance.delay.ms), and one after another they would take over a minute.
describe("kafka conformance", { concurrency: true }, () => {
  for (const c of eventStreamerCases(async () => new KafkaEventStreamer(options()))) test(`kafka: ${c.name}`, c.run);
  // kafka({ brokers }) makes its own client; the user's own producer must be left connected.
  const publisherWorks = async () => void (await publisher.send({ topic: `bundle-${unique()}`, acks: -1, messages: [{ value: "still connected" }] }));
  for (const c of bundleCases(async () => kafka(options()), publisherWorks)) test(`kafka: ${c.name}`, c.run);

  const connectorSuite = connectorCases(async (events) => {
    const topic = `connector-${unique()}`;
    await publisher.send({
      topic,
      acks: -1,
      messages: events.map((e) => ({
        key: e.foreignId,
        value: null,
        partition: 0,
        timestamp: String(e.createdAt.getTime()),
        headers: { ...e.headers, type: e.type, event_id: e.id },
      })),
    });
    return new KafkaConnector({ ...options(), topic, idHeader: "event_id" });
  });
  for (const c of connectorSuite) test(`kafka: ${c.name}`, c.run);

  test("kafka: a connector message without type or id headers is typed by its topic and identified by partition and offset", async () => {
    const topic = `connector-bare-${unique()}`;
    await publisher.send({ topic, acks: -1, messages: [{ key: "order-9", value: "{}", partition: 0, headers: { source: "shop" } }] });
    const consumer = await new KafkaConnector({ ...options(), topic }).make(`bare-${unique()}`);
    try {
      const { event, ack } = await consumer.recv(AbortSignal.timeout(10_000));
      assert.deepEqual(
        { id: event.id, foreignId: event.foreignId, type: event.type, headers: event.headers },
        { id: "0-0", foreignId: "order-9", type: topic, headers: { source: "shop" } },
      );
      await ack();
    } finally {
      await consumer.close();
    }
  });
});

test("kafka: topic names are made safe for Kafka without two topics sharing one", () => {
  assert.equal(kafkaTopicName("order_processing-2"), "order_processing-2");
  assert.equal(kafkaTopicName("billing.v2-run-state-change"), "billing.2ev2-run-state-change");
  assert.equal(kafkaTopicName("größe/1"), "gr.c3.b6.c3.9fe.2f1");
  assert.notEqual(kafkaTopicName("a.2eb"), kafkaTopicName("a.b"));
  const long = kafkaTopicName("x".repeat(300));
  assert.equal(long.length, 249);
  assert.match(long, /\.z[0-9a-f]{16}$/);
  assert.notEqual(long, kafkaTopicName(`${"x".repeat(299)}y`));
});

/** Postgres records (outbox mode), timeouts and roles, with events on Kafka. */
function lineOnKafkaAdapters(db: Awaited<ReturnType<typeof freshSchema>>, streamer: KafkaEventStreamerOptions) {
  const pg = { pool: db.pool, schema: db.schema };
  return {
    ...kafka(streamer),
    recordStore: new PostgresRecordStore(pg),
    timeoutStore: new PostgresTimeoutStore(pg),
    roleScheduler: new PostgresRoleScheduler({ pool: db.pool, retryMs: 50 }),
  };
}

const kafkaConfig = { defaultOptions: { pollingFrequency: 20, errBackOff: 100 } };

/** The line workflow on lineOnKafkaAdapters, with the errors it logs collected in `errors`. */
function lineOnKafka(db: Awaited<ReturnType<typeof freshSchema>>, streamer: KafkaEventStreamerOptions, errors: unknown[]) {
  return lineWorkflowOn(lineOnKafkaAdapters(db, streamer), {
    // Topics outlive a test on a real cluster: a new workflow name gives new topics.
    name: `kafka-line-${unique()}`,
    config: { ...kafkaConfig, logger: errorsTo(errors) },
  });
}

test("kafka: 200 runs of a three-step workflow on Postgres records and roles with Kafka events each end at version 4", { timeout: 60_000 }, async () => {
  const db = await freshSchema();
  try {
    await lineRunsComplete(lineOnKafkaAdapters(db, options()), { runs: 200, name: `kafka-line-${unique()}`, outbox: true, timeoutMs: 45_000, config: kafkaConfig });
    await failingRunDoesNotBlock({ ...lineOnKafkaAdapters(db, options()), ...kafkaConfig }, `kafka-head-of-line-${unique()}`);
  } finally {
    await db.drop();
  }
});

test("kafka: with the cluster unreachable at start the workflow reports KAFKA_UNAVAILABLE, keeps retrying, and completes once it is reachable", { timeout: 60_000 }, async (t) => {
  // Bootstrap through a port that refuses connections until a forwarder to the cluster opens on it.
  const port = await freePort();
  const db = await freshSchema();
  const errors: unknown[] = [];
  const { wf } = lineOnKafka(db, options([`127.0.0.1:${port}`]), errors);
  const sockets = new Set<Socket>();
  const forwarder = createServer((client) => {
    const [host = "", target = ""] = (cluster.brokers[0] ?? "").split(":");
    const upstream = connect(Number(target), host);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on("error", () => socket.destroy());
      socket.on("close", () => sockets.delete(socket));
    }
    client.pipe(upstream).pipe(client);
  });
  try {
    await wf.run();
    const runId = await wf.trigger("down-1", { initialValue: { id: "down-1", count: 0 } });
    await until("a KAFKA_UNAVAILABLE error to be logged", () => errors.some((err) => hasErrorCode(err, "KAFKA_UNAVAILABLE")), 30_000);
    const unavailable = errors.find((err) => hasErrorCode(err, "KAFKA_UNAVAILABLE"));
    assert.match(String((unavailable as Error).message), /^kafka: cannot .*: no broker reachable \(.*ECONNREFUSED/);
    t.diagnostic(`logged while the cluster was unreachable: ${(unavailable as Error).message}`);
    await new Promise<void>((resolve) => forwarder.listen(port, "127.0.0.1", resolve));
    const run = await wf.await("down-1", runId, Status.Done, { timeoutMs: 45_000 });
    assert.equal(run.meta.version, 4);
  } finally {
    await wf.stop();
    for (const socket of sockets) socket.destroy();
    forwarder.close();
    await db.drop();
  }
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.on("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      probe.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}
