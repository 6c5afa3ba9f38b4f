package i18n

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// keyUse finds a key where the sources use one: T(ctx, "k"), Tr(lang, "k"), K("k") in Go
// and templ, stepper.Say("k", …) in the components, t("k") in the page scripts,
// data-i18n="k" in markup.
var keyUse = regexp.MustCompile(`(?:\bTr?\(\s*[A-Za-z_][A-Za-z0-9_.()]*\s*,\s*|\bK\(\s*|\bSay\(\s*|\bt\(\s*|data-i18n=)"([a-z][a-z0-9_]*(?:\.[a-z0-9_-]+)+)"`)

// usedKeys scans web/ (the dashboard) for key uses, skipping generated templ code, tests
// and the catalogues themselves. It returns key → the files using it.
func usedKeys(t *testing.T, root string) map[string][]string {
	t.Helper()
	used := map[string][]string{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if d.Name() == "node_modules" || d.Name() == "catalogue" {
				return filepath.SkipDir
			}
			return nil
		}
		name := d.Name()
		if strings.HasSuffix(name, "_templ.go") || strings.HasSuffix(name, "_test.go") {
			return nil
		}
		if !(strings.HasSuffix(name, ".go") || strings.HasSuffix(name, ".templ") || strings.HasSuffix(name, ".js")) {
			return nil
		}
		if strings.Contains(path, string(filepath.Separator)+"dist"+string(filepath.Separator)) {
			return nil // a built bundle repeats its sources
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range keyUse.FindAllStringSubmatch(string(b), -1) {
			used[m[1]] = append(used[m[1]], path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return used
}

// problems lists every key used but missing from a language, present in one language but
// not the other, or in a catalogue but never used.
func problems(used map[string][]string, cats map[string]map[string]string) []string {
	var out []string
	all := map[string]bool{}
	for _, c := range cats {
		for k := range c {
			all[k] = true
		}
	}
	for k, files := range used {
		all[k] = true
		for _, l := range Langs {
			if _, ok := cats[l][k]; !ok {
				out = append(out, "missing in "+l+": "+k+" (used in "+files[0]+")")
			}
		}
	}
	for k := range all {
		if _, ok := used[k]; ok {
			continue
		}
		for _, l := range Langs {
			if _, ok := cats[l][k]; !ok {
				out = append(out, "missing in "+l+": "+k)
			}
		}
		out = append(out, "unused: "+k)
	}
	for _, l := range Langs {
		for k, v := range cats[l] {
			if strings.TrimSpace(v) == "" {
				out = append(out, "empty in "+l+": "+k)
			}
		}
	}
	sort.Strings(out)
	return out
}

func TestCatalogueComplete(t *testing.T) {
	used := usedKeys(t, "..")
	// The scheduler, controllers and kubelets say their held actions' reasons as keys
	// (stepper.Say) the dashboard renders.
	for _, root := range []string{"../../cluster", "../../runtime"} {
		for k, files := range usedKeys(t, root) {
			used[k] = append(used[k], files...)
		}
	}
	if len(used) < 50 {
		t.Fatalf("found only %d keys in use; is the scan pattern broken?", len(used))
	}
	for _, p := range problems(used, catalogues) {
		t.Error(p)
	}
}

// TestProblemsCatches shows the check fails on each kind of gap.
func TestProblemsCatches(t *testing.T) {
	cats := map[string]map[string]string{
		"en": {"a.b": "x", "a.only_en": "y", "a.unused": "u"},
		"ko": {"a.b": "엑스", "a.unused": "유"},
	}
	used := map[string][]string{"a.b": {"f.go"}, "a.only_en": {"f.go"}, "a.nowhere": {"g.js"}}
	got := strings.Join(problems(used, cats), "\n")
	for _, want := range []string{"missing in ko: a.only_en", "missing in en: a.nowhere", "missing in ko: a.nowhere", "unused: a.unused"} {
		if !strings.Contains(got, want) {
			t.Errorf("problems did not report %q; got:\n%s", want, got)
		}
	}
	src := `{ i18n.T(ctx, "nav.overview") } t("js.key") data-i18n="attr.key" i18n.K("lesson.x") i18n.Tr(p.Lang, "a.b") stepper.Say("why.c", n)`
	var found []string
	for _, m := range keyUse.FindAllStringSubmatch(src, -1) {
		found = append(found, m[1])
	}
	if strings.Join(found, ",") != "nav.overview,js.key,attr.key,lesson.x,a.b,why.c" {
		t.Errorf("keyUse found %v", found)
	}
}

func TestNegotiate(t *testing.T) {
	for _, c := range []struct{ cookie, accept, want string }{
		{"", "ko-KR,ko;q=0.9,en-US;q=0.8", "ko"},
		{"", "en-US,en;q=0.9,ko;q=0.8", "en"},
		{"", "fr-FR,ko;q=0.5", "ko"},
		{"", "fr-FR", "en"},
		{"", "", "en"},
		{"", "en;q=0.1,ko;q=0.9", "ko"},
		{"en", "ko", "en"},
		{"ko", "en", "ko"},
		{"xx", "ko", "ko"},
	} {
		if got := Negotiate(c.cookie, c.accept); got != c.want {
			t.Errorf("Negotiate(%q, %q) = %q, want %q", c.cookie, c.accept, got, c.want)
		}
	}
}
