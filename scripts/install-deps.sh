#!/usr/bin/env bash
# Installs the Debian packages webkube needs, only those missing, so it is quick to re-run.
set -euo pipefail
missing=()
for p in "$@"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# The dashboard's front end is bundled with node and npm (Debian's nodejs and npm, or any
# node >= 18 already on PATH).
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  for p in nodejs npm; do
    [[ " ${missing[*]} " == *" $p "* ]] || missing+=("$p")
  done
fi
if ! command -v go >/dev/null 2>&1; then
  echo "install-deps: Go is not on PATH; webkube needs Go $(awk '/^go /{print $2}' go.mod) or newer" >&2
  exit 1
fi
# The dashboard's front end is bundled with Node.js and npm (web/frontend). A machine that
# has them from elsewhere (NodeSource, nvm) keeps its own; otherwise Debian's.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  missing+=(nodejs npm)
fi
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing Debian packages: ${missing[*]}; run as root (or: sudo apt-get install ${missing[*]})" >&2
  exit 1
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
