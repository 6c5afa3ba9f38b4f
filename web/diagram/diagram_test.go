package diagram

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

var (
	componentConst = regexp.MustCompile(`(?m)^(?:const )?\s*Component\s*=\s*"([^"]+)"`)
	componentLit   = regexp.MustCompile(`stepper\.Step\{Component: "([^"]+)"`)
)

// TestEveryStepperHasABox reads the components (cluster/, runtime/) for everyone that
// announces steps through the Gate (stepper.Step{Component: …}) and checks the diagram
// has a box for each: a component without one has its held and derived arrows drawn
// nowhere (the StatefulSet and DaemonSet controllers had none).
func TestEveryStepperHasABox(t *testing.T) {
	seen := map[string]bool{}
	for _, root := range []string{"../../cluster", "../../runtime"} {
		pkgs := map[string][]string{} // a directory's non-test Go sources
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
				return err
			}
			b, err := os.ReadFile(p)
			pkgs[filepath.Dir(p)] = append(pkgs[filepath.Dir(p)], string(b))
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, srcs := range pkgs {
			all := strings.Join(srcs, "\n")
			if !strings.Contains(all, "stepper.Step{") {
				continue
			}
			for _, m := range componentConst.FindAllStringSubmatch(all, -1) {
				seen[m[1]] = true
			}
			for _, m := range componentLit.FindAllStringSubmatch(all, -1) {
				if strings.HasSuffix(m[1], "/") { // "kubelet/" + the node's name
					m[1] += "node-1"
				}
				seen[m[1]] = true
			}
		}
	}
	for _, want := range []string{"scheduler", "replicaset-controller", "kubelet/node-1"} {
		if !seen[want] {
			t.Fatalf("the scan found no %s among %v: is it reading the components?", want, seen)
		}
	}
	for c := range seen {
		if !HasBox(c) {
			t.Errorf("%s announces steps but the diagram has no box for it", c)
		}
	}
}

// TestHasBox: the fixed boxes, per-node boxes, and nothing else.
func TestHasBox(t *testing.T) {
	for c, want := range map[string]bool{"client": true, "apiserver": true, "scheduler": true,
		"statefulset-controller": true, "kubelet/node-2": true, "containerd/n": true,
		"kubelet/": false, "nobody": false, "clusterrole-aggregation-controller": false} {
		if HasBox(c) != want {
			t.Errorf("HasBox(%q) = %v, want %v", c, !want, want)
		}
	}
}

// The ingress controller is a component of its own, not one of the controller manager's
// controllers (it was drawn inside the controller manager).
func TestIngressControllerIsItsOwnComponent(t *testing.T) {
	for _, c := range Controllers {
		if c.ID == "ingress-controller" {
			t.Fatalf("ingress-controller is drawn among the controller manager's controllers")
		}
	}
	if !slices.ContainsFunc(Components, func(c Controller) bool { return c.ID == "ingress-controller" }) || !HasBox("ingress-controller") {
		t.Fatalf("no box of its own for the ingress controller: %v", Components)
	}
}
