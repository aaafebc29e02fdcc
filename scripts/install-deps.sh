#!/usr/bin/env bash
# Installs what kqfs needs to build and test, from Debian's packages only.
# Runs apt-get only when something is missing, so repeated runs are quick.
set -euo pipefail

packages=(
  g++ meson ninja-build pkg-config
  libboost-dev libboost-program-options-dev libcereal-dev
  libfuse3-dev fuse3
  libgtest-dev libgmock-dev
  bats bats-support bats-assert
  python3 procps nodejs strace
  scdoc groff-base mandoc
  bash-completion
  dpkg-dev debhelper fakeroot lintian ccache
  libsystemd-dev systemd systemd-container
)
# npm packs the Node package's tarball (tests/bats/node.bats). nodejs.org's
# nodejs package carries its own npm; Debian's is a package of its own.
command -v npm >/dev/null || packages+=(npm)

missing=()
for package in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$package")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

sudo=()
[[ $(id -u) -eq 0 ]] || sudo=(sudo)
echo "Installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
