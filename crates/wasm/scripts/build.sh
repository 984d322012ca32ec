#!/usr/bin/env bash
# Builds the npm package @gatepost/wasm into crates/wasm/pkg/:
#
#   pkg/web/      `--target web`: browsers, workers, Deno, edge runtimes (call `init()` or `initSync()`)
#   pkg/bundler/  `--target bundler`: webpack, Vite, Rollup, esbuild (the package's default entry)
#   pkg/node/     `--target nodejs`: Node (the package's "node" entry; what the Node tests use)
#
# Each target is wasm-bindgen's glue plus the JS driver (js/gatepost.js), the API types
# (js/gatepost.d.ts) and the data types generated from schemas/ (types.d.ts). The .wasm is built
# with the workspace's `wasm-release` profile (opt-level z, fat LTO, one codegen unit, panic=abort)
# and shrunk with `wasm-opt -Oz` from the npm `binaryen` package (Debian's binaryen 108 emits
# modules that crash; see TOOLCHAIN.md). Prints, and writes to target/test-results/wasm-size.txt,
# the raw and gzipped size of the .wasm.
#
# Needs: the wasm32-unknown-unknown target, wasm-pack, wasm-bindgen-cli matching Cargo.lock, and
# `npm install` done in crates/wasm (scripts/suites/70-wasm.sh sets all of that up).
#
#   crates/wasm/scripts/build.sh            release build (wasm-release profile + wasm-opt)
#   GATEPOST_WASM_DEV=1 crates/wasm/scripts/build.sh   fast unoptimised build for local iteration
#   crates/wasm/scripts/build.sh --js       only re-assemble the JS/types around the existing .wasm
set -euo pipefail
crate="$(cd "$(dirname "$0")/.." && pwd)"
root="$(cd "$crate/../.." && pwd)"
cd "$crate"

out="$crate/pkg"
bin="$crate/node_modules/.bin"
results="${GATEPOST_RESULTS:-$root/target/test-results}"
mkdir -p "$results"
version=$(sed -n 's/^version = "\(.*\)"/\1/p' "$root/Cargo.toml" | head -n 1)

if [ "${GATEPOST_WASM_DEV:-0}" = 1 ]; then
  profile_args=(--dev)
  optimise=0
else
  # wasm-pack passes `--profile` through to cargo (the workspace's [profile.wasm-release]).
  profile_args=(--profile wasm-release)
  optimise=1
fi

js_only=0
[ "${1:-}" = --js ] && js_only=1

# The .wasm and wasm-bindgen's glue for each target, optimised.
build_wasm() {
  rm -rf "$out"
  mkdir -p "$out"
  for target in web bundler nodejs; do
    dir=$target
    [ "$target" = nodejs ] && dir=node
    # --no-pack: the package.json is ours (js/package.template.json), one for all three targets.
    # --mode no-install: never download anything (wasm-bindgen-cli is installed by the suite).
    # --no-opt: wasm-opt runs below, from npm's binaryen, never one wasm-pack would download.
    wasm-pack --quiet build "$crate" --target "$target" --out-dir "$out/$dir" --out-name gatepost_wasm \
      --no-pack --no-opt --mode no-install "${profile_args[@]}"
    rm -f "$out/$dir/.gitignore" "$out/$dir/package.json" "$out/$dir/README.md"
  done

  wasm="$out/web/gatepost_wasm_bg.wasm"
  raw_before=$(stat -c %s "$wasm")
  if [ "$optimise" = 1 ]; then
    for dir in web bundler node; do
      # The features rustc enables by default for wasm32-unknown-unknown; wasm-opt must know them.
      "$bin/wasm-opt" -Oz --strip-debug --strip-producers \
        --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
        --enable-mutable-globals --enable-reference-types --enable-multivalue \
        "$out/$dir/gatepost_wasm_bg.wasm" -o "$out/$dir/gatepost_wasm_bg.wasm"
    done
  fi
}

[ "$js_only" = 1 ] || build_wasm
wasm="$out/web/gatepost_wasm_bg.wasm"

node "$crate/scripts/gen-types.mjs" "$out/web/types.d.ts"
for dir in web bundler node; do
  [ "$dir" = web ] || cp "$out/web/types.d.ts" "$out/$dir/types.d.ts"
  cp "$crate/js/gatepost.d.ts" "$out/$dir/gatepost.d.ts"
done
cp "$crate/js/gatepost.js" "$out/bundler/gatepost.js"
# The web target needs its module instantiated first: re-export wasm-bindgen's `init` (default)
# and `initSync`.
{
  cat "$crate/js/gatepost.js"
  printf '\nexport { default, initSync } from "./gatepost_wasm.js";\n'
} >"$out/web/gatepost.js"
{
  cat "$crate/js/gatepost.d.ts"
  printf '\nexport { default, initSync } from "./gatepost_wasm";\nexport type { InitInput, InitOutput, SyncInitInput } from "./gatepost_wasm";\n'
} >"$out/web/gatepost.d.ts"
# The nodejs glue is CommonJS: the driver is an ES module beside it (.mjs), in a CommonJS folder.
cp "$crate/js/gatepost.js" "$out/node/gatepost.mjs"
printf '{ "type": "commonjs" }\n' >"$out/node/package.json"

sed "s/\"VERSION\"/\"$version\"/" "$crate/js/package.template.json" >"$out/package.json"
cp "$crate/README.md" "$out/README.md"

[ "$js_only" = 1 ] && exit 0
raw=$(stat -c %s "$wasm")
gz=$(gzip -9 -c "$wasm" | wc -c)
summary="gatepost_wasm_bg.wasm: $raw bytes raw ($((raw / 1024)) KiB), $gz bytes gzipped ($((gz / 1024)) KiB); before wasm-opt: $raw_before bytes"
echo "$summary"
echo "$summary" >"$results/wasm-size.txt"
