// Where things are, for every test.
import path from "node:path";
import { fileURLToPath } from "node:url";

export const crateDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const rootDir = path.resolve(crateDir, "../..");
export const pkgDir = path.join(crateDir, "pkg");
export const scenariosDir = path.join(rootDir, "tests/scenarios");
