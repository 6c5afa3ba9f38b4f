package i18n

import (
	"strings"
	"testing"
	"testing/fstest"
)

func TestLoadKeepsEachKeyInItsPrefixFile(t *testing.T) {
	good := fstest.MapFS{
		"catalogue/en/anim.json": {Data: []byte(`{"anim.next": "Next"}`)},
		"catalogue/en/act.json":  {Data: []byte(`{"act.delete": "Delete"}`)},
	}
	m, err := load(good, "en")
	if err != nil || m["anim.next"] != "Next" || m["act.delete"] != "Delete" {
		t.Fatalf("load = %v, %v; want both files merged", m, err)
	}
	bad := fstest.MapFS{"catalogue/en/anim.json": {Data: []byte(`{"act.delete": "Delete"}`)}}
	if _, err := load(bad, "en"); err == nil || !strings.Contains(err.Error(), "belongs in act.json") {
		t.Fatalf("a key in the wrong file: err = %v, want one naming act.json", err)
	}
	broken := fstest.MapFS{"catalogue/en/anim.json": {Data: []byte(`{"anim.next": }`)}}
	if _, err := load(broken, "en"); err == nil || !strings.Contains(err.Error(), "anim.json") {
		t.Fatalf("broken JSON: err = %v, want one naming the file", err)
	}
}
