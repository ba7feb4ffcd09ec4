#!/usr/bin/env bash
# Tests scripts/lib.sh's install decisions with stubbed commands: it looks for *commands*, and
# installs a Debian package only for a command that is missing. Each case runs lib.sh in a
# subshell whose PATH holds only stubs and a few core tools, and reads what apt-get was asked.
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
LIB="$HERE/../lib.sh"
SCRATCH="$(mktemp -d)"
trap 'rm -rf "$SCRATCH"' EXIT

# Core tools lib.sh itself uses; nothing else from the real PATH is visible to it.
TOOLS="$SCRATCH/tools"
mkdir -p "$TOOLS"
for tool in sort dirname env cat id grep awk chmod; do
  ln -s "$(command -v "$tool")" "$TOOLS/$tool"
done

passed=0
failed=0

# stub NAME [SCRIPT]: a command in the case's stub folder (default: prints a version, exit 0).
stub() {
  printf '#!/bin/sh\n%s\n' "${2:-echo "$1 stub"}" >"$BIN/$1"
  chmod +x "$BIN/$1"
}

# apt-get stub: logs its arguments; `install` creates a stub for each command listed in
# $CASE/provides (lines "package command") unless $CASE/apt-fails exists.
stub_apt() {
  cat >"$BIN/apt-get" <<STUB
#!/bin/sh
echo "apt-get \$*" >>"$CASE/apt.log"
[ "\$1" = update ] && exit 0
if [ -e "$CASE/apt-fails" ]; then
  echo " nodejs : Conflicts: npm" >&2
  exit 100
fi
for pkg in "\$@"; do
  [ -f "$CASE/provides" ] || continue
  while read -r p c; do
    if [ "\$p" = "\$pkg" ]; then printf '#!/bin/sh\necho %s\n' "\$c" >"$BIN/\$c"; chmod +x "$BIN/\$c"; fi
  done <"$CASE/provides"
done
exit 0
STUB
  chmod +x "$BIN/apt-get"
}

# cargo stub: logs its arguments; `install` creates a geckodriver stub, unless $CASE/cargo-fails
# exists, or $CASE/locked-fails exists and --locked was given (a pinned dependency the
# registry mirror lacks).
stub_cargo() {
  cat >"$BIN/cargo" <<STUB
#!/bin/sh
echo "cargo \$*" >>"$CASE/cargo.log"
[ -e "$CASE/cargo-fails" ] && { echo "error: failed to compile" >&2; exit 101; }
for arg in "\$@"; do
  if [ "\$arg" = --locked ] && [ -e "$CASE/locked-fails" ]; then
    echo "error: failed to select a version for a pinned dependency" >&2
    exit 101
  fi
done
printf '#!/bin/sh\necho geckodriver 0.37.1\n' >"$BIN/geckodriver"; chmod +x "$BIN/geckodriver"
STUB
  chmod +x "$BIN/cargo"
}

new_case() {
  CASE="$SCRATCH/case-$((passed + failed))"
  BIN="$CASE/bin"
  mkdir -p "$BIN" "$CASE/home"
  : >"$CASE/apt.log"
  : >"$CASE/cargo.log"
  stub_apt
}

# run_lib CODE: sources lib.sh with only the stubs on PATH and runs CODE; output in $CASE/out.
run_lib() {
  (
    export HOME="$CASE/home" PATH="$BIN:$TOOLS"
    # shellcheck source=../lib.sh
    source "$LIB"
    eval "$1"
  ) >"$CASE/out" 2>&1
}

check() {
  local name="$1"; shift
  if "$@"; then
    passed=$((passed + 1)); printf 'ok   %s\n' "$name"
  else
    failed=$((failed + 1)); printf 'FAIL %s\n' "$name"
    sed 's/^/     | /' "$CASE/out" "$CASE/apt.log" "$CASE/cargo.log"
  fi
}

apt_asked() { grep -qx "apt-get install -y -q $1" "$CASE/apt.log"; }
apt_untouched() { [ ! -s "$CASE/apt.log" ]; }
cargo_untouched() { [ ! -s "$CASE/cargo.log" ]; }
# cargo_asked N ARGS: the Nth cargo call had exactly ARGS.
cargo_asked() { [ "$(awk -v n="$1" 'NR == n' "$CASE/cargo.log")" = "cargo $2" ]; }

# 1. NodeSource: node and npm are commands (npm inside the nodejs package): apt is not asked.
new_case; stub node; stub npm
run_lib ensure_npm
check "npm from NodeSource's nodejs: nothing installed" apt_untouched

# 2. node without npm, and Debian's npm conflicts with it: a clear message, non-zero exit.
new_case; stub node; touch "$CASE/apt-fails"
run_lib ensure_npm; status=$?
check "npm conflicting with nodejs: fails" test "$status" -ne 0
check "npm conflicting with nodejs: says what to do" grep -q "apt-get install --reinstall nodejs" "$CASE/out"

# 3. Neither node nor npm: Debian's nodejs and npm are installed, then npm is there.
new_case; printf 'nodejs node\nnpm npm\n' >"$CASE/provides"
run_lib ensure_npm; status=$?
check "no Node.js: installs Debian's nodejs and npm" apt_asked "nodejs npm"
check "no Node.js: succeeds once npm is there" test "$status" -eq 0

# 4. Only node is there: only Debian's npm is installed.
new_case; stub node; printf 'npm npm\n' >"$CASE/provides"
run_lib ensure_npm
check "node without npm: installs npm alone" apt_asked "npm"

# 5. Commands decide, not packages: chromium present, chromedriver missing.
new_case; stub chromium; printf 'chromium-driver chromedriver\n' >"$CASE/provides"
run_lib "ensure_cmds chromium:chromium chromedriver:chromium-driver"
check "a present command's package is not installed" apt_asked "chromium-driver"

# 6. Every command present: apt-get is not even updated.
new_case; stub cc; stub make; stub pkg-config
run_lib "ensure_cmds cc:build-essential make:build-essential pkg-config:pkg-config"
check "all commands present: apt untouched" apt_untouched

# 7. Two commands from one package: the package is named once.
new_case; printf 'build-essential cc\nbuild-essential make\n' >"$CASE/provides"
run_lib "ensure_cmds cc:build-essential make:build-essential"
check "one package for two commands is asked once" apt_asked "build-essential"

# 8. A package that installs but does not bring the command: a clear message.
new_case
run_lib "ensure_cmds turnserver:coturn"; status=$?
check "command still missing after install: fails" test "$status" -ne 0
check "command still missing after install: names it" grep -q "'turnserver' is still missing" "$CASE/out"

# 9. apt-get itself missing: says to install by hand.
new_case; rm "$BIN/apt-get"
run_lib "ensure_cmds redis-server:redis-server"; status=$?
check "no apt-get: fails with a clear message" grep -q "apt-get not found: install redis-server by hand" "$CASE/out"

# 10. Firefox and geckodriver both there: nothing installed, nothing built.
new_case; stub firefox-esr; stub geckodriver; stub_cargo
run_lib ensure_firefox; status=$?
check "firefox-esr and geckodriver present: succeeds" test "$status" -eq 0
check "firefox-esr and geckodriver present: apt untouched" apt_untouched
check "firefox-esr and geckodriver present: cargo untouched" cargo_untouched

# 11. Only the firefox command is there (another package than firefox-esr): firefox-esr is
# installed, as the harness starts the firefox-esr command.
new_case; stub firefox; stub geckodriver; printf 'firefox-esr firefox-esr\n' >"$CASE/provides"
run_lib ensure_firefox; status=$?
check "no firefox-esr command: installs Debian's firefox-esr" apt_asked "firefox-esr"
check "no firefox-esr command: succeeds once it is there" test "$status" -eq 0

# 12. geckodriver missing: cargo builds the pinned version, locked; apt is not asked.
new_case; stub firefox-esr; stub_cargo
run_lib ensure_firefox; status=$?
check "no geckodriver: cargo install --locked geckodriver@0.37.1" cargo_asked 1 "install --locked geckodriver@0.37.1"
check "no geckodriver: built once, apt untouched" \
  sh -c '[ "$(grep -c . "$1/cargo.log")" -eq 1 ] && [ ! -s "$1/apt.log" ]' _ "$CASE"
check "no geckodriver: says what it is doing" grep -q "Installing geckodriver 0.37.1" "$CASE/out"
check "no geckodriver: succeeds once it is built" test "$status" -eq 0

# 13. The locked build fails (a pinned dependency missing from the registry mirror): built
# again without --locked, saying so.
new_case; stub firefox-esr; stub_cargo; touch "$CASE/locked-fails"
run_lib ensure_firefox; status=$?
check "--locked fails: retried without --locked" cargo_asked 2 "install geckodriver@0.37.1"
check "--locked fails: says it dropped --locked" grep -q "without --locked" "$CASE/out"
check "--locked fails: succeeds unlocked" test "$status" -eq 0

# 14. geckodriver cannot be built at all: a clear message, non-zero exit.
new_case; stub firefox-esr; stub_cargo; touch "$CASE/cargo-fails"
run_lib ensure_firefox; status=$?
check "geckodriver build fails: fails" test "$status" -ne 0
check "geckodriver build fails: says so" grep -q "could not build geckodriver 0.37.1 with cargo" "$CASE/out"

# 15. No cargo to build geckodriver with: says to install Rust.
new_case; stub firefox-esr
run_lib ensure_firefox; status=$?
check "no cargo for geckodriver: fails" test "$status" -ne 0
check "no cargo for geckodriver: says to install Rust" grep -q "geckodriver is missing and cargo is not there" "$CASE/out"

printf '%d passed, %d failed\n' "$passed" "$failed"
[ "$failed" -eq 0 ]
