// Prints the package.json that @gatepost/node is published with, from crates/node/package.json:
// what `napi pre-publish` would write, without publishing anything. The main package carries the
// JS, the types and napi-rs's loader (native/index.js), never a binary; the loader requires the
// platform package npm installed (optionalDependencies with os/cpu/libc, all at this version).
//
//   node scripts/npm-main-package.mjs crates/node/package.json > STAGE/package.json
import { readFileSync } from 'node:fs';

// napi-rs's names for a target triple's platform package suffix.
const SUFFIX = {
  'x86_64-unknown-linux-gnu': 'linux-x64-gnu',
  'x86_64-unknown-linux-musl': 'linux-x64-musl',
  'aarch64-unknown-linux-gnu': 'linux-arm64-gnu',
  'aarch64-unknown-linux-musl': 'linux-arm64-musl',
  'x86_64-apple-darwin': 'darwin-x64',
  'aarch64-apple-darwin': 'darwin-arm64',
  'x86_64-pc-windows-msvc': 'win32-x64-msvc',
  'aarch64-pc-windows-msvc': 'win32-arm64-msvc',
};

const pkg = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const optional = {};
for (const target of pkg.napi.targets) {
  const suffix = SUFFIX[target];
  if (suffix === undefined) throw new Error(`${process.argv[2]}: napi.targets: no platform name for ${target}`);
  optional[`${pkg.name}-${suffix}`] = pkg.version;
}
pkg.files = pkg.files.filter((entry) => !entry.endsWith('.node'));
pkg.optionalDependencies = optional;
delete pkg.devDependencies;
delete pkg.scripts;
process.stdout.write(`${JSON.stringify(pkg, null, 2)}\n`);
