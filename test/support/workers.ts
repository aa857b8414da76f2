// Worker processes for the multi-process tests: each runs test/support/line-worker.ts on one
// backend. A test starts them through one `Workers` and calls `killAll()` in `finally`, so that a
// failed assertion leaves no process behind.
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import type { ProcessState } from "stepwise";
import { until } from "./until.js";

/** A line a worker printed, with when it arrived (for diagnostics, never for assertions). */
export interface Line {
  text: string;
  atMs: number;
}

/** A running worker: what it said on stdout, requests over IPC, and its end. */
export interface Worker {
  child: ChildProcess;
  pid: number;
  /** Every line the worker printed so far, oldest first. */
  lines: readonly Line[];
  /** Resolves once the worker printed `text`. */
  said(text: string, timeoutMs?: number): Promise<void>;
  /** The worker's process states and, where its backend has one, its role-lease owner id. */
  states(): Promise<{ states: { [processName: string]: ProcessState }; owner?: string }>;
  /** Triggers `count` runs with foreign ids `<prefix>-<i>` in the worker. */
  trigger(prefix: string, count: number): Promise<void>;
  /** Triggers the runs with foreign ids `ids` in the worker; rejects if the worker dies first. */
  triggerIds(ids: readonly string[]): Promise<void>;
  /** SIGKILLs the worker and resolves once it is gone. */
  kill(): Promise<void>;
  /** SIGTERMs the worker (it stops its workflow and releases its roles) and resolves once it exited. */
  stop(): Promise<void>;
}

/** The backends line-worker.ts runs on. */
export type WorkerBackend = "postgres" | "nats" | "redis" | "redis-only" | "kafka" | "etcd" | "sqlite" | "mysql";

const lineWorker = new URL("./line-worker.ts", import.meta.url).pathname;

/** The workers one test started. */
export class Workers {
  readonly #started: Worker[] = [];

  /** Starts a line worker on `backend` with line-worker.ts's `args` (`--trigger 100`, …). */
  start(backend: WorkerBackend, args: readonly string[] = []): Worker {
    const child = spawn(process.execPath, ["--conditions=source", "--import", "tsx", lineWorker, backend, ...args], {
      stdio: ["ignore", "pipe", "inherit", "ipc"],
    });
    const exited = once(child, "exit");
    // An exit is awaited by kill() or stop(); a worker that dies unasked fails the test that waits on it.
    exited.catch(() => {});
    const lines: Line[] = [];
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on("line", (text) => lines.push({ text, atMs: Date.now() }));
    const replies = new Map<number, { resolve(body: unknown): void; reject(err: Error): void }>();
    child.on("message", (message: { id: number }) => replies.get(message.id)?.resolve(message));
    // A request to a worker that died is never answered.
    child.once("exit", () => {
      for (const { reject } of replies.values()) reject(new Error(`worker ${child.pid} exited before it answered`));
      replies.clear();
    });
    let nextId = 0;
    const request = <R>(body: object): Promise<R> =>
      new Promise<R>((resolve, reject) => {
        const id = nextId++;
        replies.set(id, {
          resolve: (reply) => {
            replies.delete(id);
            resolve(reply as R);
          },
          reject,
        });
        child.send({ ...body, id }, (err) => {
          if (err) reject(err);
        });
      });
    const end = async (signal: NodeJS.Signals) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    };
    const worker: Worker = {
      child,
      pid: child.pid ?? 0,
      lines,
      said: (text, timeoutMs = 60_000) => until(`worker ${child.pid} to say "${text}"`, () => lines.some((l) => l.text === text), timeoutMs),
      states: () => request({ kind: "states" }),
      trigger: async (prefix, count) => {
        await request({ kind: "trigger", prefix, count });
      },
      triggerIds: async (ids) => {
        const reply = await request<{ error?: string }>({ kind: "trigger", ids });
        if (reply.error !== undefined) throw new Error(`worker ${child.pid} failed to trigger: ${reply.error}`);
      },
      kill: () => end("SIGKILL"),
      stop: () => end("SIGTERM"),
    };
    this.#started.push(worker);
    return worker;
  }

  /** SIGKILLs every worker still running and resolves once all are gone. */
  async killAll(): Promise<void> {
    await Promise.all(this.#started.map((w) => w.kill()));
  }
}
