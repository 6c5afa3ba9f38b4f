package oracle

import (
	"os/exec"
	"strings"
	"testing"
)

// TestBinaryDoesNotLinkKube: the oracle is for tests only; webkube's binary keeps its own
// readable validation and must not link k8s.io/kubernetes.
func TestBinaryDoesNotLinkKube(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "webkube/cmd/webkube").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 100 {
		t.Fatalf("go list gave only %d packages: %s", len(deps), out)
	}
	for _, p := range deps {
		if strings.HasPrefix(p, "k8s.io/kubernetes/") {
			t.Errorf("cmd/webkube links %s", p)
		}
	}
}
