#!/usr/bin/env bash
# Fails when the committed templ output is stale or a Go file is not gofmt-clean.
set -euo pipefail
cd "$(dirname "$0")/.."
hash_generated() { find web -name '*_templ.go' -print0 2>/dev/null | sort -z | xargs -0 -r sha256sum; }
if [ -n "$(find web -name '*.templ' 2>/dev/null | head -1)" ]; then
  templ_version=$(awk '$1 == "github.com/a-h/templ" {print $2}' go.mod)
  before=$(hash_generated)
  go run "github.com/a-h/templ/cmd/templ@${templ_version}" generate -path web >/dev/null 2>&1
  if [ "$before" != "$(hash_generated)" ]; then
    echo "check-generated: the *_templ.go files were stale (now regenerated); commit them" >&2
    exit 1
  fi
fi
unformatted=$(git ls-files '*.go' | grep -v '_templ.go$' | xargs -r gofmt -l)
if [ -n "$unformatted" ]; then
  echo "check-generated: not gofmt-clean: $unformatted" >&2
  exit 1
fi
# k8s.io/kubernetes is a test-only oracle (cluster/validation/oracle): never in the binary.
if go list -deps ./cmd/webkube | grep -q '^k8s.io/kubernetes/'; then
  echo "check-generated: cmd/webkube links k8s.io/kubernetes (allowed only in _test.go files)" >&2
  exit 1
fi
