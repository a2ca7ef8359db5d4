#!/usr/bin/env bash
# System packages the test suite needs that pip/npm cannot provide (Debian).
# Idempotent and quick when everything is present; needs root (or sudo) to install.
set -euo pipefail

missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v unzip >/dev/null 2>&1 || missing+=(unzip)
command -v jing >/dev/null 2>&1 || missing+=(jing)
command -v age >/dev/null 2>&1 || missing+=(age)  # encrypted archives open with `age -d`
command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
for pkg in ${EVENTPORT_EXTRA_APT:-}; do missing+=("$pkg"); done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "installing system packages: ${missing[*]}"
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
