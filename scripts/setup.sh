#!/usr/bin/env bash
# Installs exactly the Debian packages the build, tests and scripts need.
# Idempotent: packages already present are skipped, so a second run takes
# about a second. Needs root (or sudo) only when something is missing.
set -euo pipefail

PACKAGES=(
  # Build: Bazel 4 from Debian plus the rules_java it loads.
  bazel-bootstrap bazel-rules-java
  # Toolchain and sanitizer runtimes.
  g++ clang libclang-rt-14-dev
  # Libraries (headers + shared objects) used through the @system repository.
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev libsqlite3-dev libspdlog-dev libfmt-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libcpp-httplib-dev nlohmann-json3-dev libssl-dev
  # Scripts: the sqlite3 shell (inspection, lock tests), jq, python3 (report
  # rendering), curl (metrics), procps (ps/pkill), iproute2 (ss).
  sqlite3 jq python3 curl procps iproute2
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#PACKAGES[@]} packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "setup: done"
