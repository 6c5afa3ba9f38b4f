package lessons

import (
	"embed"
	"fmt"
	"strings"

	"webkube/web/examples"
)

// The lessons' own files, beyond the notes' examples (web/examples).
//
//go:embed files/*.yml
var ownFiles embed.FS

// file is a YAML file a command names: one of the notes' examples, else one of ours.
func file(name string) File {
	id := strings.TrimSuffix(name, ".yml")
	if b, err := ownFiles.ReadFile("files/" + name); err == nil {
		return File{Name: name, YAML: string(b)}
	}
	for _, e := range examples.All() {
		if e.ID == id {
			return File{Name: name, YAML: e.YAML}
		}
	}
	panic(fmt.Sprintf("lessons: no file %s", name))
}

// files lists the named files, for a step's Files.
func files(names ...string) []File {
	out := make([]File, len(names))
	for i, n := range names {
		out[i] = file(n)
	}
	return out
}
