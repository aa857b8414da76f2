import { InvalidOptionError } from "../errors.js";
import { consoleLogger, type Logger } from "../logger.js";
import type { RecordStore } from "../record.js";
import { normalBasePath } from "./base-path.js";
import { builtCatalogue, type AnyWorkflow } from "./built-source.js";
import type { UiSettings } from "./routes.js";
import { storedCatalogue } from "./stored-source.js";

/** Options of `webui()` whatever it serves. */
export interface WebUiCommonOptions {
  /**
   * The secret every `/api/` request must carry as `Authorization: Bearer <token>` (visible ASCII,
   * no spaces), or `false` to serve without auth on purpose, behind your own. Required.
   */
  token: string | false;
  /** The path the browser reaches the UI under. Default "/"; a mount point Express reports is added in front. */
  basePath?: string;
  /** Where failures nobody else sees are reported (a store's error behind a 500). Default: the console. */
  logger?: Logger;
}

/** Serve built workflows: statuses, transitions and object decoding from the workflows themselves. */
export interface WebUiWorkflowsOptions extends WebUiCommonOptions {
  workflows: readonly AnyWorkflow[];
  recordStore?: never;
  names?: never;
}

/**
 * Serve the runs in a record store without built workflows (the CLI over an existing database).
 * Status names come from the stored runs; objects are shown as JSON when they parse, else as base64.
 */
export interface WebUiStoreOptions extends WebUiCommonOptions {
  recordStore: RecordStore;
  /** The workflows to serve. Default: every workflow with runs in the store, found on each request. */
  names?: readonly string[];
  workflows?: never;
}

/** Options of `webui()`: built workflows, or a record store with workflow names. */
export type WebUiOptions = WebUiWorkflowsOptions | WebUiStoreOptions;

/** Checks the options once, when the web UI is made, so a mistake fails at start-up rather than on a request. */
export function resolveOptions(options: WebUiOptions): UiSettings {
  if (typeof options !== "object" || options === null) throw new InvalidOptionError("options", "webui: pass an options object");
  const token = checkedToken(options.token);
  const basePath = normalBasePath(options.basePath);
  const logger = options.logger ?? consoleLogger;
  if (options.workflows !== undefined && options.recordStore !== undefined) {
    throw new InvalidOptionError("workflows", 'webui: pass either "workflows" or "recordStore", not both');
  }
  if (options.workflows !== undefined) return { token, basePath, logger, catalogue: builtCatalogue(options.workflows) };
  if (options.recordStore !== undefined) return { token, basePath, logger, catalogue: storedCatalogue(options.recordStore, options.names) };
  throw new InvalidOptionError("workflows", 'webui: pass the built workflows as "workflows", or a "recordStore" (with "names")');
}

function checkedToken(token: unknown): string | false {
  if (token === false) return false;
  if (token === undefined) {
    throw new InvalidOptionError("token", 'webui: option "token" is required: a secret that API calls send as "Authorization: Bearer <token>", or false to serve without auth on purpose');
  }
  if (typeof token !== "string" || !/^[\x21-\x7e]+$/.test(token)) {
    throw new InvalidOptionError("token", 'webui: option "token" must be a string of visible ASCII characters without spaces, or false');
  }
  return token;
}
