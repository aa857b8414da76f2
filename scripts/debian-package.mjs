// Installs what the test servers need from Debian when a fresh machine lacks it (etcd-server,
// librdkafka-dev), so `npm test` works on a new CI machine with nothing set up beforehand.
import { spawnSync } from "node:child_process";
import process from "node:process";

/** Installs a Debian package with apt, refreshing the package lists first (a fresh machine has none). */
export function installDebianPackage(name) {
  console.error(`${name} is not installed: installing it with apt-get`);
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  for (const args of [["update", "-qq"], ["install", "-y", "-qq", name]]) {
    const result = spawnSync("apt-get", args, { stdio: ["ignore", "inherit", "inherit"], env });
    if (result.status !== 0) throw new Error(`apt-get ${args.join(" ")} failed (exit ${result.status ?? result.error?.message})`);
  }
}
