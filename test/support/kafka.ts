// The Kafka cluster the Kafka tests talk to: the one named by KAFKA_BROKERS (comma-separated
// host:port), or else a broker of the repository's own (scripts/kafka-mock/, librdkafka's mock
// cluster) started for the test file and stopped by `stop()`. scripts/services.mjs builds it.
import { spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync } from "node:fs";
import { createInterface } from "node:readline";
import { kafkaMockBinary } from "../../scripts/kafka-mock/build.mjs";

/** A cluster for one test file. `mock` says whether it is librdkafka's mock cluster. */
export interface TestCluster {
  brokers: string[];
  mock: boolean;
  stop(): Promise<void>;
}

export async function testCluster(): Promise<TestCluster> {
  const fromEnv = process.env.KAFKA_BROKERS;
  if (fromEnv) return { brokers: fromEnv.split(",").map((b) => b.trim()), mock: false, stop: async () => {} };
  return startMockBroker();
}

/** Starts a mock broker of its own on a free loopback port (two test files may each run one at once). */
export async function startMockBroker(): Promise<TestCluster> {
  if (!existsSync(kafkaMockBinary)) {
    throw new Error(`the Kafka test broker ${kafkaMockBinary} is not built: run node scripts/services.mjs (npm test does)`);
  }
  const child = spawn(kafkaMockBinary, [], { stdio: ["ignore", "pipe", "pipe"] });
  let err = "";
  child.stderr.on("data", (chunk: Buffer) => (err += chunk.toString()));
  const exited = new Promise<void>((resolve) => {
    child.once("exit", () => resolve());
    child.once("error", (error) => {
      err += error.message;
      resolve();
    });
  });
  const firstLine = once(createInterface({ input: child.stdout }), "line").then(([line]: string[]) => line);
  const address = await Promise.race([firstLine, exited]);
  if (!address) throw new Error(`${kafkaMockBinary} did not start (exit ${child.exitCode ?? child.signalCode}): ${err.trim()}`);
  return {
    brokers: [address],
    mock: true,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM");
        await exited;
      }
    },
  };
}
