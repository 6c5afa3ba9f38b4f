package static

import (
	"io/fs"
	"strings"
	"testing"
)

// The binary carries the built editor and terminal bundles, not empty placeholders.
func TestBundlesEmbedded(t *testing.T) {
	for name, marker := range map[string]string{
		"dist/editor.js":    "cm-editor",
		"dist/terminal.js":  "xterm",
		"dist/terminal.css": ".xterm",
	} {
		b, err := fs.ReadFile(FS, name)
		if err != nil {
			t.Fatalf("%s not embedded (run make bundle): %v", name, err)
		}
		if len(b) < 1000 || !strings.Contains(string(b), marker) {
			t.Errorf("%s is %d bytes without %q: not the esbuild bundle", name, len(b), marker)
		}
	}
}
