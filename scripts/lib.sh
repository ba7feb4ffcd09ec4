# Shared by scripts/run and scripts/test: say what is happening, install what is missing.
# Sourced, not executed. Every install step checks first, so a second run does nothing.

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export PATH="$HOME/.cargo/bin:$PATH"

TRUNK_VERSION="0.21.14"        # 0.22 needs a newer rustc than the machines have
BINARYEN_VERSION="132"         # Debian's binaryen (108) is too old for current rustc output
AXE_CORE_VERSION="4.14.1"      # the accessibility checker the end-to-end tests run in the page
GECKODRIVER_VERSION="0.37.1"   # Firefox's WebDriver server; not packaged by Debian, built by cargo

# Each step says how long the command has run so far ($SECONDS), so a slow CI log shows where
# the time went.
step() { printf '\n\033[1;34m==> [%d min %02d s] %s\033[0m\n' $((SECONDS / 60)) $((SECONDS % 60)) "$*"; }
note() { printf '    %s\n' "$*"; }
die()  { printf '\n\033[1;31mError: %s\033[0m\n' "$*" >&2; exit 1; }

need_cmd() { command -v "$1" >/dev/null 2>&1; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif need_cmd sudo; then sudo "$@"
  else die "installing system packages needs root (or sudo): $*"; fi
}

APT_UPDATED=0
# Installs Debian packages by name. Callers decide *whether* to install by looking for the
# commands they need (`ensure_cmds`), never by package name: the same command can come from
# different packages (Node.js from Debian, or from NodeSource with npm inside it).
apt_install() {
  [ $# -eq 0 ] && return 0
  need_cmd apt-get || die "apt-get not found: install $* by hand"
  step "Installing Debian packages: $*"
  if [ "$APT_UPDATED" -eq 0 ]; then as_root apt-get update -q; APT_UPDATED=1; fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@"
}

# ensure_cmds CMD:PACKAGE...: installs PACKAGE for each CMD missing from PATH, then checks
# that every CMD is there.
ensure_cmds() {
  local pair missing=()
  for pair in "$@"; do
    need_cmd "${pair%%:*}" || missing+=("${pair#*:}")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  # Deduplicate: several commands can come from one package.
  mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
  apt_install "${missing[@]}" || die "could not install ${missing[*]} with apt-get (see above)"
  for pair in "$@"; do
    need_cmd "${pair%%:*}" || die "'${pair%%:*}' is still missing after installing ${pair#*:}"
  done
}

# npm: whatever provides the command is fine. Debian's `npm` package is installed only when
# the command is missing; on a machine whose `nodejs` comes from NodeSource (npm inside it,
# and a package that conflicts with Debian's npm) that never happens, and if npm is missing
# there anyway, the message says what to do instead of leaving apt's conflict as the last word.
ensure_npm() {
  need_cmd npm && return 0
  if need_cmd node; then
    step "node is here but npm is not: installing Debian's npm"
    if ! apt_install npm; then
      die "npm is missing and Debian's npm package cannot be installed next to this node ($(command -v node)).
       If Node.js came from NodeSource, reinstall its nodejs package (npm is inside it): apt-get install --reinstall nodejs"
    fi
  else
    apt_install nodejs npm || die "could not install Node.js and npm with apt-get (see above)"
  fi
  need_cmd npm || die "npm is still missing after installing Node.js; install Node.js with npm and run again"
}

ensure_rust() {
  need_cmd cargo || die "cargo not found: install Rust with rustup first (https://rustup.rs)"
  if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    step "Adding the wasm32-unknown-unknown target"
    rustup target add wasm32-unknown-unknown
  fi
}

# The wasm-bindgen CLI must be exactly the library version in Cargo.lock.
wasm_bindgen_version() {
  awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock
}

# Builds a tool with cargo install, without link-time optimisation and with parallel codegen:
# the tools' own release profiles (trunk's is fat LTO with one codegen unit) trade minutes of
# build on two cores for a smaller, slightly faster binary that nobody here needs.
install_tool() {
  CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 cargo install "$@"
}

ensure_web_tools() {
  ensure_rust
  ensure_cmds cc:build-essential make:build-essential pkg-config:pkg-config
  # gzip and brotli: Trunk's post_build hook (scripts/precompress) writes dist/*.gz and *.br.
  ensure_cmds gzip:gzip brotli:brotli
  if ! need_cmd trunk || [ "$(trunk --version | awk '{print $2}')" != "$TRUNK_VERSION" ]; then
    step "Installing trunk $TRUNK_VERSION (a few minutes, once)"
    install_tool --locked "trunk@$TRUNK_VERSION"
  fi
  local wb; wb="$(wasm_bindgen_version)"
  [ -n "$wb" ] || die "cannot read the wasm-bindgen version from Cargo.lock"
  if ! need_cmd wasm-bindgen || [ "$(wasm-bindgen --version | awk '{print $2}')" != "$wb" ]; then
    step "Installing wasm-bindgen-cli $wb (matches Cargo.lock; about 3 minutes, once)"
    # Not --locked: its lock file pins a webpki-roots version the registry mirror lacks.
    install_tool --force "wasm-bindgen-cli@$wb"
  fi
  if ! need_cmd wasm-opt || ! wasm-opt --version | grep -q "version $BINARYEN_VERSION"; then
    ensure_npm
    step "Installing wasm-opt (npm binaryen@$BINARYEN_VERSION)"
    as_root npm install -g "binaryen@$BINARYEN_VERSION"
  fi
}

ensure_test_services() {
  ensure_cmds chromium:chromium chromedriver:chromium-driver turnserver:coturn \
    redis-server:redis-server ip:iproute2 unshare:util-linux
}

# Firefox and geckodriver, for the end-to-end calls between Firefox and Chromium
# (e2e/tests/firefox.rs). Debian packages Firefox ESR but not geckodriver, which cargo builds.
ensure_firefox() {
  ensure_cmds firefox-esr:firefox-esr
  need_cmd geckodriver && return 0
  need_cmd cargo || die "geckodriver is missing and cargo is not there to build it: install Rust with rustup first (https://rustup.rs)"
  step "Installing geckodriver $GECKODRIVER_VERSION (cargo; about 3 minutes, once)"
  if ! install_tool --locked "geckodriver@$GECKODRIVER_VERSION"; then
    # The registry mirror can lag behind a version pinned in geckodriver's lock file.
    note "cargo install --locked failed (a pinned dependency missing from the registry?):"
    note "trying again without --locked, with the newest compatible dependencies"
    install_tool "geckodriver@$GECKODRIVER_VERSION" \
      || die "could not build geckodriver $GECKODRIVER_VERSION with cargo (see above)"
  fi
  need_cmd geckodriver || die "'geckodriver' is still missing after cargo install: is ~/.cargo/bin on PATH?"
}

# axe-core is a JavaScript file, not a command: kept under target/, its path exported for the
# end-to-end tests (e2e/tests/layout.rs injects it into the room page).
ensure_axe_core() {
  export AXE_CORE_JS="$ROOT/target/e2e-tools/node_modules/axe-core/axe.min.js"
  if [ ! -f "$AXE_CORE_JS" ] || ! head -c 200 "$AXE_CORE_JS" | grep -q "axe v$AXE_CORE_VERSION"; then
    ensure_npm
    step "Installing axe-core $AXE_CORE_VERSION (npm) into target/e2e-tools for the accessibility check"
    npm install --prefix "$ROOT/target/e2e-tools" --no-save --no-audit --no-fund --loglevel=error \
      "axe-core@$AXE_CORE_VERSION"
    [ -f "$AXE_CORE_JS" ] || die "npm did not install axe-core at $AXE_CORE_JS"
  fi
}

# The product's bundle: no test hooks.
build_frontend_release() {
  step "Building the frontend (release, wasm-opt -Oz) into dist/"
  trunk build --release
}

# The same bundle with the frontend's cargo feature `test-hooks` (`window.__peerConnection`,
# which the end-to-end tests and the call benchmark read getStats() from).
build_frontend_with_test_hooks() {
  step "Building the frontend with test hooks (release, wasm-opt -Oz) into dist/"
  trunk build --release --features test-hooks
}

# Every fuzz target of fuzz/ (stable Rust: arbitrary inputs from a seeded generator, see
# fuzz/src/lib.rs) for FUZZ_SECONDS each (30 by default). The dev profile: its dependencies are
# the ones the unit tests built (a release build of the backend and the page's crates cost
# minutes more in CI than the 90 s of fuzzing), and overflow checks are on. The long runs
# (`cargo run --release -p fuzz -- --target all --inputs 10000000`) use release. The seed is new
# each run and printed; a failure prints the command that replays its input.
run_fuzz_targets() {
  local seconds="${FUZZ_SECONDS:-30}" target
  step "Fuzzing: each target for ${seconds} s (parse, registry, call)"
  cargo build -p fuzz
  for target in parse registry call; do
    target/debug/fuzz --target "$target" --seconds "$seconds"
  done
}
