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
	steps [lazySteps]pathStep
	n     int
}

// lazySteps is deep enough for a pod's fields below spec (volumes[i].projected.sources[j]
// .downwardAPI.path is six); a deeper step makes the path so far (see push).
const lazySteps = 8

type pathStep struct {
	kind  stepKind
	name  string // of a child or a key
	index int
}

type stepKind uint8

const (
	childStep stepKind = iota
	indexStep
	keyStep
)

func lazy(root *field.Path) lazyPath { return lazyPath{root: root} }

// child is root.Child(names...) once made.
func (p lazyPath) child(names ...string) lazyPath {
	for _, name := range names {
		p = p.push(pathStep{kind: childStep, name: name})
	}
	return p
}

// index is root.Index(i) once made.
func (p lazyPath) index(i int) lazyPath { return p.push(pathStep{kind: indexStep, index: i}) }

// key is root.Key(k) once made.
func (p lazyPath) key(k string) lazyPath { return p.push(pathStep{kind: keyStep, name: k}) }

func (p lazyPath) push(s pathStep) lazyPath {
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
		switch s.kind {
		case childStep:
			fp = fp.Child(s.name)
		case indexStep:
			fp = fp.Index(s.index)
		case keyStep:
			fp = fp.Key(s.name)
		}
	}
	return fp
}
