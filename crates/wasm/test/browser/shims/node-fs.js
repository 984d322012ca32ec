// Stand-in for node:fs in the browser page; the corpus runner's file helpers are not used there.
export function readFileSync() {
  throw new Error("node:fs is not available in a browser");
}
