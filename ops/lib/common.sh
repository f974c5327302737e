# Shared by the ops/ scripts: prerequisites and the build. Idempotent; safe to run again and again.
set -euo pipefail

SWEEPER_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
SWEEPER_CONFIGURATION="${SWEEPER_CONFIGURATION:-Release}"
SWEEPER_DATASET_DIR="${SWEEPER_DATASET_DIR:-/usr/share/datasets/fashion-mnist}"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

apt_install() {
  # Installs Debian packages when running as root; otherwise says what to install.
  local missing=("$@")
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing ${missing[*]} (apt-get)"
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1; then
      apt-get update -qq >/dev/null 2>&1 || true
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null || die "apt-get could not install ${missing[*]}"
    fi
  else
    die "missing ${missing[*]}: install with 'sudo apt-get install ${missing[*]}'"
  fi
}

ensure_dotnet() {
  command -v dotnet >/dev/null 2>&1 || die "the .NET SDK 10 is required (dotnet not found on PATH); see https://learn.microsoft.com/dotnet/core/install/linux-debian"
  local major
  major="$(dotnet --version 2>/dev/null | cut -d. -f1)"
  [ "${major:-0}" -ge 10 ] || die "the .NET SDK 10 or later is required (found $(dotnet --version 2>/dev/null || echo none))"
}

ensure_dataset() {
  # Fashion-MNIST comes from Debian's dataset-fashion-mnist package (nothing is downloaded at run time).
  if [ -f "$SWEEPER_DATASET_DIR/train-images-idx3-ubyte.gz" ] || [ -f "$SWEEPER_DATASET_DIR/train-images-idx3-ubyte" ]; then
    return 0
  fi
  if [ "$SWEEPER_DATASET_DIR" = "/usr/share/datasets/fashion-mnist" ] && [ "$(id -u)" -eq 0 ]; then
    apt_install dataset-fashion-mnist
  else
    die "Fashion-MNIST not found in $SWEEPER_DATASET_DIR: install it with 'sudo apt-get install dataset-fashion-mnist', or put its idx files in a folder and set trainable.dataset.path in the spec (and SWEEPER_DATASET_DIR for these scripts)"
  fi
}

ensure_chromium() {
  # The report tests render report.html in headless Chromium: Debian's chromium package (/usr/bin/chromium).
  if [ -x /usr/bin/chromium ]; then
    return 0
  fi
  if [ "$(id -u)" -eq 0 ]; then
    apt_install chromium
    [ -x /usr/bin/chromium ] || die "apt-get installed chromium but /usr/bin/chromium is missing"
  else
    die "Chromium not found at /usr/bin/chromium (the report tests render report.html with it): install it with 'sudo apt-get install chromium'"
  fi
}

build_solution() {
  say "restoring and building ($SWEEPER_CONFIGURATION)"
  dotnet build "$SWEEPER_ROOT/Sweeper.sln" -c "$SWEEPER_CONFIGURATION" -nologo -v q -clp:ErrorsOnly
}

build_cli() {
  say "restoring and building the sweeper CLI ($SWEEPER_CONFIGURATION)"
  dotnet build "$SWEEPER_ROOT/src/Sweeper.Cli/Sweeper.Cli.csproj" -c "$SWEEPER_CONFIGURATION" -nologo -v q -clp:ErrorsOnly
}

# Builds the sample plug-ins (samples/*/*.csproj) a spec names, e.g. configs/examples/plugin.yaml's TinyResNet.
build_samples_for() {
  local spec="$1" project
  for project in "$SWEEPER_ROOT"/samples/*/*.csproj; do
    [ -f "$project" ] || continue
    if grep -q "samples/$(basename "$(dirname "$project")")/" "$spec" 2>/dev/null; then
      say "building the sample plug-in $(basename "$project" .csproj) the spec uses"
      dotnet build "$project" -c "$SWEEPER_CONFIGURATION" -nologo -v q -clp:ErrorsOnly
    fi
  done
}

sweeper_dll() { echo "$SWEEPER_ROOT/src/Sweeper.Cli/bin/$SWEEPER_CONFIGURATION/net10.0/sweeper.dll"; }
