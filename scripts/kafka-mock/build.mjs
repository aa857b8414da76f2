// Builds the Kafka test broker (kafka-mock.c, on librdkafka's mock cluster) into build/ at the
// repository's root, installing Debian's librdkafka-dev first when it is missing. Called by
// scripts/services.mjs before the tests start, so two test files never compile it at once.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, renameSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { installDebianPackage } from "../debian-package.mjs";

const sourcePath = join("scripts", "kafka-mock", "kafka-mock.c");

/**
 * The repository's root: the nearest folder above this file that holds the broker's source. Looked
 * up rather than fixed, because the benchmarks run this file from a bundle under node_modules.
 */
function repositoryRoot() {
  for (let dir = dirname(fileURLToPath(import.meta.url)); dir !== dirname(dir); dir = dirname(dir)) {
    if (existsSync(join(dir, sourcePath))) return dir;
  }
  throw new Error(`kafka-mock: no folder above ${fileURLToPath(import.meta.url)} holds ${sourcePath}`);
}

const root = repositoryRoot();
const source = join(root, sourcePath);

/** Where the built broker is: the first line it prints is its bootstrap address. */
export const kafkaMockBinary = join(root, "build", "kafka-mock");

/** librdkafka's compiler and linker flags from pkg-config, or the plain library when it has none. */
function rdkafkaFlags() {
  const result = spawnSync("pkg-config", ["--cflags", "--libs", "rdkafka"], { encoding: "utf8" });
  return result.status === 0 ? result.stdout.trim().split(/\s+/).filter(Boolean) : ["-lrdkafka"];
}

/** Builds the broker unless the binary is newer than its source. */
export function buildKafkaMock() {
  if (existsSync(kafkaMockBinary) && statSync(kafkaMockBinary).mtimeMs >= statSync(source).mtimeMs) return;
  if (!existsSync("/usr/include/librdkafka/rdkafka_mock.h")) installDebianPackage("librdkafka-dev");
  console.error(`building the Kafka test broker: ${kafkaMockBinary}`);
  mkdirSync(dirname(kafkaMockBinary), { recursive: true });
  // Written aside and renamed, so an interrupted build never leaves a broken binary that looks current.
  const partial = `${kafkaMockBinary}.${process.pid}.partial`;
  const result = spawnSync("cc", ["-O2", "-Wall", "-o", partial, source, ...rdkafkaFlags()], { stdio: ["ignore", "inherit", "inherit"] });
  if (result.status !== 0) throw new Error(`cc ${source} failed (exit ${result.status ?? result.error?.message})`);
  renameSync(partial, kafkaMockBinary);
}

if (import.meta.url === `file://${process.argv[1]}`) buildKafkaMock();
