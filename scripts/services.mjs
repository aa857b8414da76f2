// Makes sure the database servers the adapter tests talk to are up, starting any that is down,
// that each has the `test` database, and that the Kafka test broker is built (each Kafka test file
// starts its own). Used by scripts/test.mjs, so `npm test` works alone.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { createConnection } from "node:net";
import process from "node:process";
import { installDebianPackage } from "./debian-package.mjs";
import { buildKafkaMock } from "./kafka-mock/build.mjs";

const services = [
  {
    name: "PostgreSQL",
    port: Number(process.env.PGPORT ?? 5432),
    start: () => {
      const versions = existsSync("/etc/postgresql") ? readdirSync("/etc/postgresql") : [];
      for (const version of versions) run("pg_ctlcluster", ["--skip-systemctl-redirect", version, "main", "start"]);
    },
    ensureDatabase: () => {
      const found = run("psql", ["-h", "127.0.0.1", "-U", "postgres", "-Atc", "select 1 from pg_database where datname = 'test'"]);
      if (found.trim() !== "1") run("createdb", ["-h", "127.0.0.1", "-U", "postgres", "test"]);
    },
  },
  {
    name: "MariaDB",
    port: Number(process.env.MYSQL_PORT ?? 3306),
    start: () => run("start-stop-daemon", ["--start", "--oknodo", "--background", "--exec", "/usr/sbin/mariadbd"]),
    ensureDatabase: () => run("mariadb", ["-h", "127.0.0.1", "-u", "root", "-e", "create database if not exists test"]),
  },
  {
    name: "Redis",
    port: Number(process.env.REDIS_PORT ?? 6379),
    start: () =>
      run("redis-server", [
        "--daemonize", "yes", "--bind", "127.0.0.1", "-::1", "--port", "6379", "--save", "", "--appendonly", "no",
        "--dir", "/var/lib/redis", "--logfile", "/var/log/redis/ci.log",
      ]),
    ensureDatabase: () => {},
  },
  {
    name: "NATS",
    port: Number(process.env.NATS_PORT ?? 4222),
    start: () =>
      run("start-stop-daemon", [
        "--start", "--oknodo", "--background", "--exec", "/usr/sbin/nats-server", "--",
        "-a", "127.0.0.1", "-p", "4222", "-js", "-sd", "/var/lib/nats-server", "-l", "/var/log/nats-server.log",
      ]),
    ensureDatabase: () => {},
  },
  {
    // etcd for the etcd role scheduler: Debian's etcd-server, installed here when missing (a fresh
    // CI machine has none), a single member on loopback only, its data under /var/lib.
    name: "etcd",
    port: Number(process.env.ETCD_PORT ?? 2379),
    start: () => {
      if (!existsSync("/usr/bin/etcd")) installDebianPackage("etcd-server");
      run("start-stop-daemon", [
        "--start", "--oknodo", "--background", "--output", "/var/log/etcd-stepwise.log", "--exec", "/usr/bin/etcd", "--",
        "--name", "stepwise", "--data-dir", "/var/lib/etcd-stepwise", "--logger", "zap",
        "--listen-client-urls", "http://127.0.0.1:2379", "--advertise-client-urls", "http://127.0.0.1:2379",
        "--listen-peer-urls", "http://127.0.0.1:2380", "--initial-advertise-peer-urls", "http://127.0.0.1:2380",
        "--initial-cluster", "stepwise=http://127.0.0.1:2380",
      ]);
    },
    ensureDatabase: () => {},
  },
];

function run(command, args) {
  const result = spawnSync(command, args, { encoding: "utf8" });
  if (result.error) return "";
  return result.stdout ?? "";
}

function isListening(port) {
  return new Promise((resolve) => {
    const socket = createConnection({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.end();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

export async function ensureServices() {
  for (const service of services) {
    if (!(await isListening(service.port))) {
      console.error(`${service.name} is not listening on ${service.port}: starting it`);
      service.start();
      const deadline = Date.now() + 60_000;
      while (!(await isListening(service.port))) {
        if (Date.now() > deadline) throw new Error(`${service.name} did not start listening on ${service.port} within 60 s`);
        execFileSync("sleep", ["0.5"]);
      }
    }
    service.ensureDatabase();
  }
  // With KAFKA_BROKERS the Kafka tests use that cluster and never start the mock.
  if (!process.env.KAFKA_BROKERS) buildKafkaMock();
}

if (import.meta.url === `file://${process.argv[1]}`) await ensureServices();
