package validation

import (
	"testing"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// A lazyPath makes the path field.Path's own steps make, at any depth (past lazySteps too).
func TestLazyPathMakesFieldPaths(t *testing.T) {
	for _, root := range []*field.Path{nil, field.NewPath("spec"), field.NewPath("spec", "template", "spec")} {
		fp, lp := root, lazy(root)
		for i := range 3 * lazySteps {
			switch i % 3 {
			case 0:
				fp, lp = fp.Child("a", "b"), lp.child("a").child("b")
			case 1:
				fp, lp = fp.Index(i), lp.index(i)
			case 2:
				fp, lp = fp.Key("k"), lp.key("k")
			}
			if got, want := lp.path().String(), fp.String(); got != want {
				t.Fatalf("step %d from %v: lazy %q, field.Path %q", i, root, got, want)
			}
		}
	}
}

// Stepping a lazyPath allocates nothing; only path() does.
func TestLazyPathStepsDoNotAllocate(t *testing.T) {
	root := field.NewPath("spec")
	var sink lazyPath
	if n := testing.AllocsPerRun(100, func() {
		sink = lazy(root).child("volumes").index(3).child("projected").child("sources").index(1).key("x")
	}); n != 0 {
		t.Errorf("%v allocations per path, want 0", n)
	}
	_ = sink
}
