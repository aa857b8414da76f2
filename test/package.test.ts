// The package as a user gets it: packed by npm (which runs `prepare`, the build), installed from the
// tarball into a fresh project, loaded by plain node from dist/ (no tsx, no "source" condition) and
// type-checked through the `types` of its exports.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readFile, readdir, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { Builder } from "stepwise";
import { sqlite } from "stepwise/sqlite";

const run = promisify(execFile);
const root = fileURLToPath(new URL("..", import.meta.url));
const stepLimitMs = 180_000;

interface Manifest {
  name: string;
  version: string;
  exports: { [subpath: string]: { types: string; default: string } };
  dependencies: { [name: string]: string };
}

/** A few names each subpath must export; a new subpath fails the test until it is listed here. */
const expectedNames: { [subpath: string]: string[] } = {
  ".": ["Builder", "Workflow", "RunState", "StepwiseError", "jsonCodec"],
  "./memory": ["memory", "MemoryRecordStore"],
  "./testing": ["FakeClock", "requireStatus", "waitFor"],
  "./adaptertest": ["recordStoreCases", "eventStreamerCases"],
  "./sqlite": ["sqlite", "migrate", "SqliteRecordStore"],
  "./postgres": ["postgres", "migrate", "PostgresRecordStore"],
  "./mysql": ["mysql", "migrate", "MysqlRecordStore"],
  "./nats": ["nats", "NatsEventStreamer"],
  "./etcd": ["etcd", "EtcdRoleScheduler"],
  "./redis": ["redis", "RedisEventStreamer"],
  "./kafka": ["kafka", "KafkaEventStreamer"],
  "./webui": ["webui", "UnauthorizedError"],
  "./otel": ["otel"],
  "./prometheus": ["prometheus"],
};

/**
 * The optional peers a subpath loads as soon as it is imported. Every other subpath must import
 * with no driver installed. stepwise/nats talks to the server through JetStream and its key-value
 * store, which are needed for anything it does (and documented as its packages); stepwise/otel
 * exists to use OpenTelemetry's API and its W3C propagator, and stepwise/prometheus prom-client.
 */
const peersAtImport: { [subpath: string]: string[] } = {
  "./nats": ["@nats-io/jetstream", "@nats-io/kv"],
  "./otel": ["@opentelemetry/api", "@opentelemetry/core"],
  "./prometheus": ["prom-client"],
};

/** Runs a command; on failure the error names the command and carries its output. */
async function exec(file: string, args: string[], cwd: string): Promise<string> {
  try {
    const { stdout } = await run(file, args, { cwd, timeout: stepLimitMs, maxBuffer: 16 * 1024 * 1024 });
    return stdout;
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    throw new Error(`${file} ${args.join(" ")} failed in ${cwd}\n--- stdout ---\n${e.stdout ?? ""}\n--- stderr ---\n${e.stderr ?? ""}`, {
      cause: err,
    });
  }
}

/** Packs a package directory into `destination` and returns the tarball's path and its files. */
async function pack(directory: string, destination: string, options: { ignoreScripts: boolean }): Promise<{ tarball: string; files: string[] }> {
  const args = ["pack", "--json", "--pack-destination", destination, ...(options.ignoreScripts ? ["--ignore-scripts"] : [])];
  const [packed] = JSON.parse(await exec("npm", args, directory)) as { filename: string; files: { path: string }[] }[];
  assert.ok(packed, `npm pack of ${directory} reported nothing`);
  return { tarball: join(destination, packed.filename), files: packed.files.map((f) => f.path) };
}

/** Links a package from the repository's node_modules into the project, as if the user had installed it. */
async function linkFromRepository(project: string, name: string): Promise<void> {
  const target = join(project, "node_modules", name);
  await mkdir(join(target, ".."), { recursive: true });
  await symlink(join(root, "node_modules", name), target, "dir");
}

/** Imports the subpaths with plain node in the project and returns the names each one exports. */
async function importWithNode(project: string, packageName: string, subpaths: string[]): Promise<{ [subpath: string]: string[] }> {
  const script = [
    "const names = {};",
    ...subpaths.map((s) => {
      const specifier = s === "." ? packageName : `${packageName}/${s.slice(2)}`;
      return `names[${JSON.stringify(s)}] = Object.keys(await import(${JSON.stringify(specifier)}));`;
    }),
    "console.log(JSON.stringify(names));",
  ].join("\n");
  return JSON.parse(await exec(process.execPath, ["--input-type=module", "-e", script], project)) as { [subpath: string]: string[] };
}

// What a user writes first: a workflow on memory(), started, triggered and awaited.
const program = `
import { Builder, type Workflow } from "stepwise";
import { memory } from "stepwise/memory";

enum Status { Unknown = 0, Created = 1, Done = 2 }
interface Order { id: string; total: number }

const b = new Builder<Order, Status>("orders", Status);
b.addStep(Status.Created, async (run) => {
  run.object.total += 1;
  return Status.Done;
}, Status.Done);
const wf: Workflow<Order, Status> = b.build(memory());
await wf.run();
try {
  const runId: string = await wf.trigger("order-1", { initialValue: { id: "order-1", total: 1 } });
  const done = await wf.await("order-1", runId, Status.Done);
  const total: number = done.object.total;
  console.log(JSON.stringify({ status: done.status, total }));
} finally {
  await wf.stop();
}
`;

// Asks the installed web UI for its page and assets, as a browser would, and prints what came back.
const webuiFiles = `
import { memory } from "stepwise/memory";
import { webui } from "stepwise/webui";
const ui = webui({ recordStore: memory().recordStore, token: false });
const get = (path) => ui.fetch(new Request("http://ui.test" + path));
const page = await (await get("/")).text();
const app = await get("/assets/app.js");
console.log(JSON.stringify({
  pageLoadsMermaid: page.includes("assets/mermaid.min.js"),
  appJs: [app.status, (await app.text()).length],
  appCss: (await get("/assets/app.css")).status,
  mermaid: (await get("/assets/mermaid.min.js")).status,
}));
`;

test("the packed package installs into a fresh project, imports with plain node and type-checks", { timeout: 4 * stepLimitMs }, async (t) => {
  const manifest = JSON.parse(await readFile(join(root, "package.json"), "utf8")) as Manifest;
  const subpaths = Object.keys(manifest.exports);
  const dir = await mkdtemp(join(tmpdir(), "stepwise-package-"));
  try {
    // Runs `prepare`, so this also proves that a clone builds dist/ by itself.
    const packed = await pack(root, dir, { ignoreScripts: false });

    await t.test("the tarball holds what the exports point at, the SQL schemas, and no tests or sources", async () => {
      assert.deepEqual(subpaths.sort(), Object.keys(expectedNames).sort(), "every subpath in exports must be listed in expectedNames");
      const files = new Set(packed.files);
      for (const [subpath, target] of Object.entries(manifest.exports)) {
        for (const path of [target.types, target.default]) {
          assert.ok(files.has(path.replace(/^\.\//, "")), `${subpath} points at ${path}, which is not in the tarball`);
        }
      }
      for (const schema of await readdir(join(root, "sql"))) assert.ok(files.has(`sql/${schema}`), `sql/${schema} is not in the tarball`);
      for (const file of await readdir(join(root, "webui"))) assert.ok(files.has(`webui/${file}`), `webui/${file} is not in the tarball`);
      const unexpected = packed.files.filter(
        (path) =>
          !/^(package\.json|README\.md|LICENSE|dist\/.+\.(js|d\.ts|js\.map)|sql\/[^/]+\.sql|webui\/[^/]+\.(js|css))$/.test(path) ||
          /\.test(-d)?\./.test(path),
      );
      assert.deepEqual(unexpected, [], "the tarball holds files a user does not need");
    });

    const project = join(dir, "app");
    await mkdir(project);
    await writeFile(join(project, "package.json"), JSON.stringify({ name: "app", private: true, type: "module" }));
    // Offline: the dependencies come from the repository's node_modules, packed as npm would fetch them.
    const dependencies = await Promise.all(
      Object.keys(manifest.dependencies).map(async (name) => (await pack(join(root, "node_modules", name), dir, { ignoreScripts: true })).tarball),
    );
    await exec("npm", ["install", "--offline", "--no-audit", "--no-fund", packed.tarball, ...dependencies], project);

    await t.test("every subpath imports with plain node, with no optional driver installed unless it needs one", async () => {
      const withoutPeers = subpaths.filter((s) => !peersAtImport[s]);
      const names = await importWithNode(project, manifest.name, withoutPeers);
      for (const peer of Object.values(peersAtImport).flat()) await linkFromRepository(project, peer);
      Object.assign(names, await importWithNode(project, manifest.name, Object.keys(peersAtImport)));
      for (const subpath of subpaths) {
        for (const name of expectedNames[subpath] ?? []) assert.ok(names[subpath]?.includes(name), `${subpath} does not export ${name}`);
      }
    });

    await t.test("the installed web UI serves its page's files, and mermaid's bundle once mermaid is installed", async () => {
      const served = async () => JSON.parse(await exec(process.execPath, ["--input-type=module", "-e", webuiFiles], project)) as { [what: string]: unknown };
      const appJs = (await readFile(join(root, "webui", "app.js"), "utf8")).length;
      assert.deepEqual(await served(), { pageLoadsMermaid: false, appJs: [200, appJs], appCss: 200, mermaid: 404 });
      await linkFromRepository(project, "mermaid");
      assert.deepEqual(await served(), { pageLoadsMermaid: true, appJs: [200, appJs], appCss: 200, mermaid: 200 });
    });

    await t.test("a program type-checks against the installed types and runs from dist/", async () => {
      // A Node service has @types/node: the declarations use its AbortSignal.
      await linkFromRepository(project, "@types/node");
      await writeFile(join(project, "main.ts"), program);
      await writeFile(
        join(project, "tsconfig.json"),
        JSON.stringify({
          compilerOptions: { strict: true, module: "NodeNext", moduleResolution: "NodeNext", target: "ES2022", types: ["node"], outDir: "out" },
          files: ["main.ts"],
        }),
      );
      // tsc fails on any type error; the JavaScript it emits runs the same program, since node 20 cannot run .ts.
      await exec(join(root, "node_modules", ".bin", "tsc"), ["-p", "."], project);
      const output = await exec(process.execPath, [join("out", "main.js")], project);
      assert.deepEqual(JSON.parse(output), { status: 2, total: 2 });
    });

    await t.test("the stepwise command is installed and reads a SQLite file with plain node", async () => {
      await linkFromRepository(project, "better-sqlite3");
      const file = join(dir, "runs.db");
      const runId = await storeOneRun(file);
      const bin = join(project, "node_modules", ".bin", "stepwise");
      assert.equal((await exec(bin, ["--version"], project)).trim(), manifest.version);
      const page = JSON.parse(await exec(bin, ["runs", "list", "--sqlite", file, "--json"], project)) as { runs: { runId: string; statusName: string }[] };
      assert.deepEqual(page.runs.map((r) => [r.runId, r.statusName]), [[runId, "Done"]]);
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

/** A SQLite file holding one finished run, written by a workflow from the sources. */
async function storeOneRun(file: string): Promise<string> {
  enum Status { Unknown = 0, Created = 1, Done = 2 }
  const b = new Builder<{ n: number }, Status>("counter", Status);
  b.addStep(Status.Created, async () => Status.Done, Status.Done);
  const adapters = sqlite(file);
  const wf = b.build(adapters);
  await wf.run();
  try {
    const runId = await wf.trigger("one", { initialValue: { n: 1 } });
    await wf.await("one", runId, Status.Done);
    return runId;
  } finally {
    await wf.stop();
    await adapters.close();
  }
}
