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
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: missing Debian packages: ${missing[*]}; run as root (or: sudo apt-get install ${missing[*]})" >&2
    exit 1
  fi
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# The clients the acceptance tests drive (helm, k9s) are Go programs built from their own
# modules with `go install module/cmd@version` into $(go env GOPATH)/bin, which never touches
# webkube's go.mod. A binary already there at the wanted version (`go version -m` reads the
# module and version it was built from) is kept.
gobin="$(go env GOBIN)"
[ -n "$gobin" ] || gobin="$(go env GOPATH)/bin"
for tool in ${GO_TOOLS:-}; do
  pkg="${tool%@*}" version="${tool##*@}"
  bin="$gobin/$(basename "$pkg")"
  if [ -x "$bin" ] && go version -m "$bin" 2>/dev/null | awk '$1 == "mod" {print $3}' | grep -qx "$version"; then
    continue
  fi
  echo "install-deps: go install $tool"
  go install "$tool"
done
