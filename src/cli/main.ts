#!/usr/bin/env node
// `npx stepwise …`: see program.ts for the commands.
import process from "node:process";
import { failureExitCode, failureMessage } from "./failure.js";
import { cliProgram } from "./program.js";

try {
  await cliProgram().parseAsync(process.argv);
} catch (err) {
  const message = failureMessage(err);
  if (message !== undefined) process.stderr.write(message + "\n");
  process.exitCode = failureExitCode(err);
}
