package yamlpos

import (
	"reflect"
	"testing"
)

const stream = `# echo pod and a service
apiVersion: v1
kind: Pod
metadata:
  name: echo
  labels:
    app: echo
    app.kubernetes.io/name: echo
spec:
  containers:
    - name: app
      image: ghcr.io/subicura/echo:v1
    - name: side
      image: busybox
      ports:
        - containerPort: 3000
---
---
apiVersion: v1
kind: Service
metadata:
  name: echo
spec:
  ports:
    - port: 80
`

func TestSplit(t *testing.T) {
	docs, err := Split([]byte(stream))
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) != 2 {
		t.Fatalf("got %d docs, want 2 (the empty one dropped)", len(docs))
	}
	if docs[0].StartLine != 2 || docs[1].StartLine != 19 {
		t.Errorf("start lines %d,%d want 2,19", docs[0].StartLine, docs[1].StartLine)
	}
	if docs[1].Object["kind"] != "Service" {
		t.Errorf("second doc kind %v", docs[1].Object["kind"])
	}
}

func TestLine(t *testing.T) {
	docs, err := Split([]byte(stream))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		doc   int
		path  string
		line  int
		exact bool
	}{
		{0, "metadata.name", 5, true},
		{0, ".metadata.name", 5, true},
		{0, "spec.containers[0].image", 12, true},
		{0, "spec.containers[1].name", 13, true},
		{0, "spec.containers[1]", 13, true},
		{0, "spec.containers[1].ports[0].containerPort", 16, true},
		{0, "metadata.labels[app.kubernetes.io/name]", 8, true},
		{0, "spec.containers[0].resources.limits", 11, false}, // missing: point at the container
		{0, "spec.containers[5].image", 10, false},
		{1, "spec.ports[0].port", 25, true},
		{1, "spec.selector", 23, false},
	} {
		line, exact := Line(docs[tc.doc].Root, tc.path)
		if line != tc.line || exact != tc.exact {
			t.Errorf("Line(doc %d, %q) = %d,%v want %d,%v", tc.doc, tc.path, line, exact, tc.line, tc.exact)
		}
	}
}

func TestSyntaxErrorLine(t *testing.T) {
	_, err := Split([]byte("apiVersion: v1\nkind: Pod\nmetadata:\n  name: x\n   bad: [\n"))
	se, ok := err.(*SyntaxError)
	if !ok {
		t.Fatalf("err %T %v, want *SyntaxError", err, err)
	}
	if se.Line < 4 || se.Line > 6 {
		t.Errorf("syntax error at line %d, want near 5", se.Line)
	}
}

func TestTopLevelTypos(t *testing.T) {
	src := "# echo-pod.yml\napiVerison: v1\nkind: Pod\nmetadata:\n  name: echo\nspce: {}\nzzzzzzzz: 1\n"
	docs, err := Split([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	got := TopLevelTypos(docs[0].Root)
	want := []Typo{{"apiVerison", 2, "apiVersion"}, {"spce", 6, "spec"}, {"zzzzzzzz", 7, ""}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
}

func TestUnknownFields(t *testing.T) {
	got := UnknownFields(`Pod in version "v1" cannot be handled as a Pod: strict decoding error: unknown field "spec.containers[0].imagee", unknown field "apiVerison"`)
	want := []string{"spec.containers[0].imagee", "apiVerison"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v want %v", got, want)
	}
	docs, _ := Split([]byte("apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - name: a\n    imagee: x\n"))
	if l, ok := Line(docs[0].Root, got[0]); l != 6 || !ok {
		t.Errorf("unknown field line %d %v, want 6", l, ok)
	}
}
