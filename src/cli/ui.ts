import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import process from "node:process";
import { webui } from "../webui/index.js";
import { openStore, type StoreOptions } from "./store.js";

/** Options of `stepwise ui`. */
export interface UiOptions extends StoreOptions {
  port: number;
  host: string;
  /** The token to ask for; `false` (`--no-token`) serves without auth; undefined makes one up. */
  token?: string | false;
}

/**
 * Serves the web UI over the store until SIGINT or SIGTERM, then closes the server and the store.
 * Prints the URL and the token first, so whoever started it (a person, a script) knows both.
 */
export async function serveUi(options: UiOptions): Promise<void> {
  const store = await openStore(options);
  try {
    // Made up here when not given: a UI that can cancel runs is never open by accident.
    const token = options.token ?? randomBytes(24).toString("base64url");
    const ui = webui({ recordStore: store.recordStore, token });
    const server = createServer(ui.handler);
    server.listen(options.port, options.host);
    await once(server, "listening");
    const { address, port } = server.address() as AddressInfo;
    const host = address.includes(":") ? `[${address}]` : address;
    const lines = [`stepwise web UI: http://${host}:${port}/`];
    lines.push(token === false ? "No token: anyone who can reach this address can read and control runs." : `Token: ${token}`);
    lines.push("Stop with Ctrl-C.");
    process.stdout.write(lines.join("\n") + "\n");
    await stopSignal();
    const closed = once(server, "close");
    server.close();
    // Browsers keep connections open; without this, close() would wait for them to time out.
    server.closeAllConnections();
    await closed;
  } finally {
    await store.close();
  }
}

/** Resolves on the first SIGINT or SIGTERM, which then no longer end the process by themselves. */
function stopSignal(): Promise<void> {
  return new Promise((resolve) => {
    const stop = () => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      resolve();
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });
}
