package examples

import (
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// Every example is YAML a kubectl user could apply; only the typo example has the typo.
func TestExamplesParse(t *testing.T) {
	all := All()
	if len(all) < 8 {
		t.Fatalf("want the notes' 8 examples, got %d", len(all))
	}
	for _, e := range all {
		for i, doc := range strings.Split(e.YAML, "\n---\n") {
			var m map[string]any
			if err := yaml.Unmarshal([]byte(doc), &m); err != nil {
				t.Fatalf("%s doc %d: %v", e.ID, i, err)
			}
			_, typo := m["apiVerison"]
			if typo != (e.ID == "echo-pod-typo") {
				t.Errorf("%s doc %d: apiVerison present = %v", e.ID, i, typo)
			}
			if m["kind"] == nil || m["metadata"] == nil {
				t.Errorf("%s doc %d: no kind or metadata", e.ID, i)
			}
		}
	}
}
