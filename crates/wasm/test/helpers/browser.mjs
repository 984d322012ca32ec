// Headless Chromium for the browser tests: a static file server on loopback and a WebDriver session
// through Debian's chromedriver (never a browser a tool downloads itself).
import { spawn } from "node:child_process";
import { createReadStream, existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";

const TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".json": "application/json",
  ".wasm": "application/wasm",
  ".css": "text/css",
};

/**
 * Serve files on 127.0.0.1 from `mounts` (`{ "/prefix/": "/abs/dir" }`, longest prefix wins).
 * Nothing outside the mounted directories is reachable.
 */
export async function serveStatic(mounts) {
  const prefixes = Object.keys(mounts).sort((a, b) => b.length - a.length);
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, "http://localhost");
    const prefix = prefixes.find((p) => url.pathname.startsWith(p));
    const root = prefix === undefined ? undefined : path.resolve(mounts[prefix]);
    const file = root && path.resolve(root, "." + decodeURIComponent(url.pathname.slice(prefix.length - 1)));
    if (!file || !file.startsWith(root) || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404, { "content-type": "text/plain" });
      res.end("not found");
      return;
    }
    res.writeHead(200, { "content-type": TYPES[path.extname(file)] ?? "application/octet-stream", "cache-control": "no-store" });
    createReadStream(file).pipe(res);
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(resolve));
    },
  };
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

const CHROMEDRIVER = process.env.CHROMEDRIVER ?? "/usr/bin/chromedriver";
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";

/**
 * Open `url` in headless Chromium and run `body(page)`, where `page.eval(js)` runs a script in the
 * page (WebDriver "execute script": `return ...`) and `page.waitFor(js, ms)` polls until it is
 * truthy. Chromium and chromedriver are stopped afterwards, and the profile removed.
 */
export async function withChromium(url, body) {
  const port = await freePort();
  const profile = mkdtempSync(path.join(tmpdir(), "gatepost-chromium-"));
  const driver = spawn(CHROMEDRIVER, [`--port=${port}`, "--allowed-ips=127.0.0.1"], { stdio: ["ignore", "ignore", "pipe"] });
  let driverLog = "";
  driver.stderr.on("data", (chunk) => (driverLog += chunk));
  const base = `http://127.0.0.1:${port}`;
  const call = async (method, route, payload) => {
    const response = await fetch(base + route, {
      method,
      headers: { "content-type": "application/json" },
      body: payload === undefined ? undefined : JSON.stringify(payload),
    });
    const json = await response.json();
    if (!response.ok) throw new Error(`WebDriver ${method} ${route}: ${JSON.stringify(json.value ?? json).slice(0, 2000)}`);
    return json.value;
  };
  let session;
  try {
    for (let i = 0; ; i++) {
      try {
        if ((await call("GET", "/status")).ready) break;
      } catch (error) {
        if (i > 100) throw new Error(`chromedriver did not start: ${error.message}\n${driverLog}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const created = await call("POST", "/session", {
      capabilities: {
        alwaysMatch: {
          browserName: "chrome",
          "goog:chromeOptions": {
            binary: CHROMIUM,
            args: [
              "--headless",
              "--no-sandbox",
              "--disable-gpu",
              "--disable-dev-shm-usage",
              "--disable-background-networking",
              `--user-data-dir=${profile}`,
            ],
          },
        },
      },
    });
    session = created.sessionId;
    await call("POST", `/session/${session}/url`, { url });
    const page = {
      eval: (script) => call("POST", `/session/${session}/execute/sync`, { script, args: [] }),
      /** A PNG of the viewport (for looking at the page when a test fails). */
      screenshot: async () => Buffer.from(await call("GET", `/session/${session}/screenshot`), "base64"),
      async waitFor(script, timeoutMs) {
        const deadline = Date.now() + timeoutMs;
        for (;;) {
          const value = await page.eval(script);
          if (value) return value;
          if (Date.now() > deadline) throw new Error(`timed out waiting for: ${script}`);
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      },
    };
    return await body(page);
  } finally {
    if (session) await call("DELETE", `/session/${session}`).catch(() => {});
    driver.kill("SIGTERM");
    await new Promise((resolve) => (driver.exitCode !== null ? resolve() : driver.once("exit", resolve)));
    rmSync(profile, { recursive: true, force: true });
  }
}
