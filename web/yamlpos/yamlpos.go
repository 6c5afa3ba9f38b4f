// Package yamlpos finds where in a pasted YAML stream a Kubernetes field path lives, so the
// editor can put an API error (a Status cause like "spec.containers[0].image", or a strict
// decoding error like `unknown field "apiVerison"`) next to the line the learner wrote.
package yamlpos

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Doc is one document of a YAML stream with its position in the stream.
type Doc struct {
	Index     int            // 0-based position among the non-empty documents
	StartLine int            // 1-based line of the document's first key
	Root      *yaml.Node     // the mapping node; lines are absolute in the stream
	Object    map[string]any // the decoded document, ready to send as JSON
}

// SyntaxError is a YAML parse error with the stream line it was found at.
type SyntaxError struct {
	Line    int
	Message string
}

func (e *SyntaxError) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Message) }

var lineRE = regexp.MustCompile(`line (\d+):\s*(.*)`)

// Split parses every document in src. Empty documents (a stray `---`) are dropped.
// Lines stay absolute in src because one decoder reads the whole stream.
func Split(src []byte) ([]Doc, error) {
	dec := yaml.NewDecoder(bytes.NewReader(src))
	var docs []Doc
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			msg := strings.TrimPrefix(err.Error(), "yaml: ")
			if m := lineRE.FindStringSubmatch(msg); m != nil {
				l, _ := strconv.Atoi(m[1])
				return docs, &SyntaxError{Line: l, Message: m[2]}
			}
			return docs, &SyntaxError{Line: 1, Message: msg}
		}
		root := &n
		if root.Kind == yaml.DocumentNode && len(root.Content) > 0 {
			root = root.Content[0]
		}
		if root.Kind == 0 || (root.Kind == yaml.ScalarNode && root.Tag == "!!null") {
			continue
		}
		if root.Kind != yaml.MappingNode {
			return docs, &SyntaxError{Line: root.Line, Message: "a Kubernetes object must be a mapping (key: value)"}
		}
		var obj map[string]any
		if err := root.Decode(&obj); err != nil {
			return docs, &SyntaxError{Line: root.Line, Message: err.Error()}
		}
		docs = append(docs, Doc{Index: len(docs), StartLine: root.Line, Root: root, Object: obj})
	}
}

// Line returns the 1-based line of the field named by path ("spec.containers[0].image",
// "metadata.labels[app]", ".spec.replicas"). When only a prefix of the path exists (a
// required field left out), it returns the line of the deepest part found and exact=false.
func Line(root *yaml.Node, path string) (line int, exact bool) {
	parts := parsePath(path)
	n := root
	line = root.Line
	for _, p := range parts {
		next, keyLine := child(n, p)
		if next == nil {
			return line, false
		}
		n = next
		line = keyLine
	}
	return line, true
}

// child steps into mapping key or sequence index p, returning the value node and the
// line to point at (the key's line for mappings, so `image:` is underlined, not its value).
func child(n *yaml.Node, p string) (*yaml.Node, int) {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == p {
				return n.Content[i+1], n.Content[i].Line
			}
		}
	case yaml.SequenceNode:
		i, err := strconv.Atoi(p)
		if err == nil && i >= 0 && i < len(n.Content) {
			return n.Content[i], n.Content[i].Line
		}
	}
	return nil, 0
}

// parsePath splits a field.Path string into keys: "a.b[0].c[x.y]" -> a b 0 c x.y.
func parsePath(path string) []string {
	var parts []string
	var cur strings.Builder
	flush := func() {
		if cur.Len() > 0 {
			parts = append(parts, cur.String())
			cur.Reset()
		}
	}
	for i := 0; i < len(path); i++ {
		c := path[i]
		switch c {
		case '.':
			flush()
		case '[':
			flush()
			j := strings.IndexByte(path[i:], ']')
			if j < 0 {
				cur.WriteString(path[i+1:])
				i = len(path)
				continue
			}
			parts = append(parts, path[i+1:i+j])
			i += j
		default:
			cur.WriteByte(c)
		}
	}
	flush()
	return parts
}

var unknownFieldRE = regexp.MustCompile(`unknown field "([^"]+)"`)

// UnknownFields pulls the field paths out of a strict decoding message such as
// `strict decoding error: unknown field "spec.containers[0].imagee", unknown field "x"`.
func UnknownFields(msg string) []string {
	var out []string
	for _, m := range unknownFieldRE.FindAllStringSubmatch(msg, -1) {
		out = append(out, m[1])
	}
	return out
}

// TopLevelTypos reports top-level keys of a Kubernetes object that are not apiVersion,
// kind, metadata, spec, status, data... and look like a misspelling of one of them, with the
// line of the key and the key it probably meant. The editor needs this before sending
// anything: a document without apiVersion cannot even be routed to the API.
func TopLevelTypos(root *yaml.Node) []Typo {
	known := []string{"apiVersion", "kind", "metadata", "spec", "status", "data", "stringData",
		"binaryData", "type", "immutable", "subsets", "endpoints", "addressType", "ports",
		"involvedObject", "reason", "message", "source", "count", "firstTimestamp", "lastTimestamp",
		"reportingComponent", "reportingInstance", "action", "eventTime", "related", "series"}
	var out []Typo
	if root == nil || root.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k := root.Content[i]
		isKnown := false
		for _, w := range known {
			if k.Value == w {
				isKnown = true
				break
			}
		}
		if isKnown {
			continue
		}
		best, bestD := "", 3
		for _, w := range known {
			if d := distance(strings.ToLower(k.Value), strings.ToLower(w)); d < bestD {
				best, bestD = w, d
			}
		}
		out = append(out, Typo{Field: k.Value, Line: k.Line, Suggest: best})
	}
	return out
}

// Typo is a top-level key nobody expects.
type Typo struct {
	Field   string
	Line    int
	Suggest string // "" when nothing is close
}

// distance is the optimal-string-alignment edit distance, so a swapped pair of letters
// ("apiVerison") counts as one edit.
func distance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := 0; j <= len(rb); j++ {
		d[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}
