// Starts the real emulator (`gatepost emulator`, built by `cargo build -p gatepost`) on loopback for
// one world, and stops it. The world is a file of examples/worlds, optionally changed per test
// (keys, faults), written to a temporary directory.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import readline from 'node:readline';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const BINARY = process.env.GATEPOST_BIN ?? path.join(ROOT, 'target/debug/gatepost');

export function emulatorAvailable() {
  return existsSync(BINARY);
}

/** `examples/worlds/NAME.json`, with `change(world)` applied. */
export function world(name, change = (w) => w) {
  return change(JSON.parse(readFileSync(path.join(ROOT, 'examples/worlds', `${name}.json`), 'utf8')));
}

/** Serve `worldValue`; resolves with `{ url, stop }` once the first stdout line names the URL. */
export async function startEmulator(worldValue, { timeScale = 60, extraArgs = [] } = {}) {
  const dir = mkdtempSync(path.join(tmpdir(), 'gatepost-node-e2e-'));
  const file = path.join(dir, 'world.json');
  writeFileSync(file, JSON.stringify(worldValue));
  const child = spawn(BINARY, ['emulator', '--world', file, '--port', '0', '--time-scale', String(timeScale), ...extraArgs], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (c) => (stderr += c));
  const url = await new Promise((resolve, reject) => {
    const lines = readline.createInterface({ input: child.stdout });
    const timer = setTimeout(() => reject(new Error(`the emulator did not start within 20 s: ${stderr}`)), 20_000);
    lines.once('line', (line) => {
      clearTimeout(timer);
      const m = line.match(/^gatepost emulator listening on (https?:\/\/127\.0\.0\.1:\d+)$/);
      if (m) resolve(m[1]);
      else reject(new Error(`unexpected first line from the emulator: ${line} ${stderr}`));
    });
    child.once('exit', (code) => reject(new Error(`the emulator exited (${code}): ${stderr}`)));
  });
  child.stdout.resume();
  return {
    url,
    dir,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
