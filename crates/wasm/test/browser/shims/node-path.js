// Stand-in for node:path in the browser page; the corpus runner's file helpers are not used there.
export default { join: (...parts) => parts.join("/") };
