package main

// Acceptance tests with the real clients a learner uses beside kubectl (issue 14): helm v3,
// k9s (driven in tmux) and the official Python client. `make test-deps` installs them (helm and
// k9s with `go install` into $(go env GOPATH)/bin, tmux and python3-kubernetes from
// Debian); a test whose client is missing fails and says how to get it.

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// clientTool finds a client program on PATH or where `go install` puts it.
func clientTool(t *testing.T, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	gobin := os.Getenv("GOBIN")
	if gobin == "" {
		out, err := exec.Command("go", "env", "GOPATH").Output()
		if err == nil {
			gobin = filepath.Join(strings.TrimSpace(string(out)), "bin")
		}
	}
	if p := filepath.Join(gobin, name); gobin != "" {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	t.Fatalf("%s is not installed (not on PATH nor in %s): run `make test-deps` as root", name, gobin)
	return ""
}

// runTool runs a client against the cluster's kubeconfig and returns its combined output.
func (c *cluster) runTool(timeout time.Duration, bin string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+c.kubeconfig)
	out, err := cmd.CombinedOutput()
	return string(out), err
}
