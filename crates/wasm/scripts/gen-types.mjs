// Writes types.d.ts (Outcome, Event, Action, Input, Config) from the engine's committed JSON
// Schemas (../../../schemas), so the package's data types are generated, never hand-copied.
//
//   node scripts/gen-types.mjs OUT_FILE
import { compile } from "json-schema-to-typescript";
import { existsSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const schemas = path.resolve(here, "../../../schemas");
const out = process.argv[2];
if (!out) {
  console.error("usage: node scripts/gen-types.mjs OUT_FILE");
  process.exit(2);
}

// schema file → the exported type name.
const sources = [
  ["outcome.schema.json", "Outcome"],
  ["event.schema.json", "Event"],
  ["action.schema.json", "Action"],
  ["input.schema.json", "Input"],
  ["config.schema.json", "Config"],
];

const parts = ["// Generated from schemas/*.schema.json by crates/wasm/scripts/gen-types.mjs. Do not edit.\n"];
const declared = new Set();
for (const [file, name] of sources) {
  const source = path.join(schemas, file);
  if (!existsSync(source)) {
    // The config schema describes a user's file, which the engine accepts as any JSON value; until
    // it is committed, the type says exactly that.
    console.error(`gen-types: ${file} not found; ${name} is typed as object`);
    parts.push(`export type ${name} = object;\n`);
    declared.add(name);
    continue;
  }
  const schema = JSON.parse(await readFile(source, "utf8"));
  schema.title = name;
  const ts = await compile(schema, name, {
    bannerComment: "",
    additionalProperties: false,
    strictIndexSignatures: true,
    unknownAny: true,
    format: true,
  });
  // Schemas share definitions (the Outcome inside Action's `done`): declare each type once.
  for (const block of ts.split(/\n(?=(?:\/\*\*[\s\S]*?\*\/\n)?export )/)) {
    const match = block.match(/export (?:interface|type) (\w+)/);
    if (match && declared.has(match[1])) continue;
    if (match) declared.add(match[1]);
    parts.push(block.trim() + "\n");
  }
}
await writeFile(out, parts.join("\n"));
