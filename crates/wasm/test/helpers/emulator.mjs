// The gatepost emulator (target/debug/gatepost, built by the suite) on a free loopback port.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { createInterface } from "node:readline";
import { rootDir } from "./paths.mjs";

const BINARY =
  process.env.GATEPOST_BIN ?? path.join(process.env.CARGO_TARGET_DIR ? path.resolve(rootDir, process.env.CARGO_TARGET_DIR) : path.join(rootDir, "target"), "debug/gatepost");

/** Start `gatepost emulator --world WORLD --port 0 --time-scale SCALE`; resolves with its URL. */
export async function startEmulator(world, { timeScale = 60 } = {}) {
  if (!existsSync(BINARY)) throw new Error(`${BINARY} is missing: build it with cargo build -p gatepost --features emulator`);
  const child = spawn(BINARY, ["emulator", "--world", path.join(rootDir, world), "--port", "0", "--time-scale", String(timeScale)], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (chunk) => (stderr += chunk));
  const lines = createInterface({ input: child.stdout });
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the emulator did not start in 30 s: ${stderr}`)), 30_000);
    child.once("exit", (code) => reject(new Error(`the emulator exited (${code}): ${stderr}`)));
    lines.once("line", (line) => {
      clearTimeout(timer);
      const match = line.match(/^gatepost emulator listening on (http:\/\/127\.0\.0\.1:\d+)$/);
      if (match) resolve(match[1]);
      else reject(new Error(`unexpected first line from the emulator: ${line}`));
    });
  });
  lines.on("line", () => {});
  return {
    url,
    async stop() {
      if (child.exitCode === null) {
        child.kill("SIGTERM");
        await new Promise((resolve) => child.once("exit", resolve));
      }
    },
  };
}
