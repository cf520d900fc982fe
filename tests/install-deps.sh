#!/usr/bin/env bash
# Installs the Debian 12 packages sigdump needs to build, test and run its
# demo, skipping those already installed. Works as root or through sudo.
set -euo pipefail

packages=(
  build-essential cmake pkg-config g++
  liburing-dev libsimdjson-dev libxxhash-dev libboost-dev libsystemd-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  python3 systemd
  openssh-client openssh-server
  python3-dev pybind11-dev python3-pybind11 python3-numpy python3-pytest
  clang-format
  chromium neovim
  prometheus-node-exporter
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

sudo=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    sudo=(sudo)
  else
    echo "install-deps: need root or sudo to install: ${missing[*]}" >&2
    exit 2
  fi
fi

echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
