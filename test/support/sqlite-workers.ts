// Starts and talks to test/support/sqlite-worker.ts processes, for the SQLite multi-process tests.
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import type { ProcessState } from "stepwise";
import { until } from "./until.js";

/** A running worker: what it said on stdout, and requests over IPC. */
export interface Worker {
  child: ChildProcess;
  /** Resolves once the worker printed `line`. */
  said(line: string, timeoutMs?: number): Promise<void>;
  /** The worker's process states and its role-lease owner id. */
  states(): Promise<{ states: { [processName: string]: ProcessState }; owner: string }>;
  /** Triggers `count` runs with foreign ids `<prefix>-<i>` in the worker. */
  trigger(prefix: string, count: number): Promise<void>;
  /** SIGKILLs the worker and resolves once it is gone. */
  kill(): Promise<void>;
  /** SIGTERMs the worker (it stops its workflow and releases its leases) and resolves once it exited. */
  stop(): Promise<void>;
}

const started: ChildProcess[] = [];

/** SIGKILLs every worker still running; for an `after` hook. */
export function killAllWorkers(): void {
  for (const child of started) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
}

export function startWorker(path: string, args: string[] = []): Worker {
  const child = spawn(
    process.execPath,
    ["--conditions=source", "--import", "tsx", new URL("./sqlite-worker.ts", import.meta.url).pathname, path, ...args],
    { stdio: ["ignore", "pipe", "inherit", "ipc"] },
  );
  started.push(child);
  const lines: string[] = [];
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on("line", (line) => lines.push(line));
  const replies = new Map<number, (body: unknown) => void>();
  child.on("message", (message: { id: number }) => replies.get(message.id)?.(message));
  let nextId = 0;
  const request = <R>(body: object): Promise<R> =>
    new Promise<R>((resolve, reject) => {
      const id = nextId++;
      replies.set(id, (reply) => {
        replies.delete(id);
        resolve(reply as R);
      });
      child.send({ ...body, id }, (err) => {
        if (err) reject(err);
      });
    });
  const exited = once(child, "exit");
  return {
    child,
    said: (line, timeoutMs = 30_000) => until(`a worker to say "${line}"`, () => lines.includes(line), timeoutMs),
    states: () => request({ kind: "states" }),
    trigger: async (prefix, count) => {
      await request({ kind: "trigger", prefix, count });
    },
    kill: async () => {
      child.kill("SIGKILL");
      await exited;
    },
    stop: async () => {
      child.kill("SIGTERM");
      await exited;
    },
  };
}
