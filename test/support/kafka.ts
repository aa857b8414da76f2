// The Kafka cluster the Kafka tests talk to: the one named by KAFKA_BROKERS (comma-separated
// host:port), or else librdkafka's mock cluster, started by the shared tool beside the repository
// (../shared/tools/kafka-mock/start.sh) and stopped by `stop()`.
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A cluster for one test file. `mock` says whether it is librdkafka's mock cluster. */
export interface TestCluster {
  brokers: string[];
  mock: boolean;
  stop(): Promise<void>;
}

/** The repository's root: this file is test/support/kafka.ts. */
const repoRoot = new URL("../../", import.meta.url);
const mockScript = new URL("../shared/tools/kafka-mock/start.sh", repoRoot).pathname;

export async function testCluster(): Promise<TestCluster> {
  const fromEnv = process.env.KAFKA_BROKERS;
  if (fromEnv) return { brokers: fromEnv.split(",").map((b) => b.trim()), mock: false, stop: async () => {} };
  return startMockBroker();
}

/** Starts a mock broker in a directory of its own (two test files may each run one at once). */
export async function startMockBroker(): Promise<TestCluster> {
  const dir = await mkdtemp(join(tmpdir(), "stepwise-kafka-mock-"));
  const address = await new Promise<string>((resolve, reject) => {
    const child = spawn("bash", [mockScript], { env: { ...process.env, KAFKA_MOCK_DIR: dir }, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (err += chunk.toString()));
    child.on("error", reject);
    child.on("exit", (code) => {
      const line = out.trim().split("\n")[0] ?? "";
      if (code === 0 && line) resolve(line);
      else reject(new Error(`${mockScript} exited with ${code}: ${err.trim()}`));
    });
  });
  const pid = Number((await readFile(join(dir, "broker.pid"), "utf8")).trim());
  return {
    brokers: [address],
    mock: true,
    stop: async () => {
      try {
        process.kill(pid, "SIGTERM");
      } catch {
        // Already gone.
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}
