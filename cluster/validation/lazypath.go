package validation

import "k8s.io/apimachinery/pkg/util/validation/field"

// lazyPath is a field path not made yet: a made path (its root) and the steps below it.
// field.Path's Child and Index allocate a node each, and a valid pod passes through
// dozens of fields that need a path only to report an error (issue 16: the paths were
// most of what validating a valid pod allocated). A lazyPath is a value, copied on each
// step and never pointing at the stack, so the compiler keeps it off the heap; path()
// makes the field.Path, on the error branch.
type lazyPath struct {
	root  *field.Path
	n     int
	steps [lazySteps]pathStep
}

// lazySteps is deep enough for a pod's fields below spec (volumes[i].projected.sources[j]
// .downwardAPI.path is seven); a deeper step makes the path so far (see add).
const lazySteps = 8

// pathStep is a child's or a key's name, or an index (kept small: a lazyPath is copied at
// every step).
type pathStep struct {
	name  string
	index int // >= 0 for an index; childStep or keyStep
}

const (
	childStep = -1
	keyStep   = -2
)

func lazy(root *field.Path) lazyPath { return lazyPath{root: root} }

// child is root.Child(name) once made.
func (p lazyPath) child(name string) lazyPath { return p.add(pathStep{name: name, index: childStep}) }

// index is root.Index(i) once made.
func (p lazyPath) index(i int) lazyPath { return p.add(pathStep{index: i}) }

// key is root.Key(k) once made.
func (p lazyPath) key(k string) lazyPath { return p.add(pathStep{name: k, index: keyStep}) }

// add takes p by value and changes its copy: written in place through a pointer, the
// step cost a write barrier check and twice the time.
func (p lazyPath) add(s pathStep) lazyPath {
	if p.n == lazySteps {
		p = lazy(p.path()) // rare: pays what field.Path would have paid
	}
	p.steps[p.n] = s
	p.n++
	return p
}

// path makes the field.Path, exactly as the same steps on field.Path would.
func (p lazyPath) path() *field.Path {
	fp := p.root
	for _, s := range p.steps[:p.n] {
		switch s.index {
		case childStep:
			fp = fp.Child(s.name)
		case keyStep:
			fp = fp.Key(s.name)
		default:
			fp = fp.Index(s.index)
		}
	}
	return fp
}
