# Shared by scripts/run and scripts/test: say what is happening, install what is missing.
# Sourced, not executed. Every install step checks first, so a second run does nothing.

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export PATH="$HOME/.cargo/bin:$PATH"

TRUNK_VERSION="0.21.14"        # 0.22 needs a newer rustc than the machines have
BINARYEN_VERSION="132"         # Debian's binaryen (108) is too old for current rustc output

step() { printf '\n\033[1;34m==> %s\033[0m\n' "$*"; }
note() { printf '    %s\n' "$*"; }
die()  { printf '\n\033[1;31mError: %s\033[0m\n' "$*" >&2; exit 1; }

need_cmd() { command -v "$1" >/dev/null 2>&1; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif need_cmd sudo; then sudo "$@"
  else die "installing system packages needs root (or sudo): $*"; fi
}

APT_UPDATED=0
apt_install() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  need_cmd apt-get || die "apt-get not found: install ${missing[*]} by hand"
  step "Installing Debian packages: ${missing[*]}"
  if [ "$APT_UPDATED" -eq 0 ]; then as_root apt-get update -q; APT_UPDATED=1; fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
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

ensure_web_tools() {
  ensure_rust
  apt_install build-essential pkg-config
  if ! need_cmd trunk || [ "$(trunk --version | awk '{print $2}')" != "$TRUNK_VERSION" ]; then
    step "Installing trunk $TRUNK_VERSION (about 7 minutes, once)"
    cargo install --locked "trunk@$TRUNK_VERSION"
  fi
  local wb; wb="$(wasm_bindgen_version)"
  [ -n "$wb" ] || die "cannot read the wasm-bindgen version from Cargo.lock"
  if ! need_cmd wasm-bindgen || [ "$(wasm-bindgen --version | awk '{print $2}')" != "$wb" ]; then
    step "Installing wasm-bindgen-cli $wb (matches Cargo.lock; about 3 minutes, once)"
    # Not --locked: its lock file pins a webpki-roots version the registry mirror lacks.
    cargo install --force "wasm-bindgen-cli@$wb"
  fi
  if ! need_cmd wasm-opt || ! wasm-opt --version | grep -q "version $BINARYEN_VERSION"; then
    apt_install nodejs npm
    step "Installing wasm-opt (npm binaryen@$BINARYEN_VERSION)"
    as_root npm install -g "binaryen@$BINARYEN_VERSION"
  fi
}

ensure_test_services() {
  apt_install chromium chromium-driver coturn redis-server iproute2 util-linux
}

build_frontend_release() {
  step "Building the frontend (release, wasm-opt -Oz) into dist/"
  trunk build --release
}
