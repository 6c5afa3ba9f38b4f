// Package i18n holds the dashboard's message catalogues (Korean and English), picks the
// language of a request (cookie, then Accept-Language) and translates keys. Kubernetes
// names (kinds, field paths, kubectl commands) stay as they are inside the messages.
package i18n

import (
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
)

// Langs are the languages the dashboard speaks; the first is the fallback.
var Langs = []string{"en", "ko"}

// Cookie is the name of the cookie that remembers a chosen language.
const Cookie = "webkube-lang"

// Each language's messages live in catalogue/<lang>/<prefix>.json, one file per key prefix
// ("anim.next" is in anim.json), so features add their strings without touching each other's.
//
//go:embed catalogue
var files embed.FS

var catalogues = mustLoad()

func mustLoad() map[string]map[string]string {
	out := map[string]map[string]string{}
	for _, l := range Langs {
		m, err := load(files, l)
		if err != nil {
			panic(fmt.Sprintf("i18n: catalogue %s: %v", l, err))
		}
		out[l] = m
	}
	return out
}

// load merges lang's files; a key outside its file's prefix is an error, so each key has
// exactly one home.
func load(fsys fs.FS, lang string) (map[string]string, error) {
	dir := "catalogue/" + lang
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, err
	}
	m := map[string]string{}
	for _, e := range entries {
		prefix, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok {
			continue
		}
		b, err := fs.ReadFile(fsys, dir+"/"+e.Name())
		if err != nil {
			return nil, err
		}
		part := map[string]string{}
		if err := json.Unmarshal(b, &part); err != nil {
			return nil, fmt.Errorf("%s: %w", e.Name(), err)
		}
		for k, v := range part {
			if !strings.HasPrefix(k, prefix+".") {
				return nil, fmt.Errorf("%s: key %q belongs in %s.json", e.Name(), k, strings.Split(k, ".")[0])
			}
			m[k] = v
		}
	}
	return m, nil
}

// Catalogue is one language's messages (a copy), e.g. for the page's scripts.
func Catalogue(lang string) map[string]string {
	out := map[string]string{}
	for k, v := range catalogues[Supported(lang)] {
		out[k] = v
	}
	return out
}

// Keys lists every key of lang's catalogue, sorted.
func Keys(lang string) []string {
	var out []string
	for k := range catalogues[lang] {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

type ctxKey struct{}

// WithLang returns ctx carrying lang.
func WithLang(ctx context.Context, lang string) context.Context {
	return context.WithValue(ctx, ctxKey{}, Supported(lang))
}

// LangOf is the language ctx carries, English when none.
func LangOf(ctx context.Context) string {
	if ctx != nil {
		if l, ok := ctx.Value(ctxKey{}).(string); ok {
			return l
		}
	}
	return Langs[0]
}

// Supported is lang if the dashboard speaks it, else the fallback.
func Supported(lang string) string {
	lang = strings.ToLower(strings.TrimSpace(lang))
	if base, _, ok := strings.Cut(lang, "-"); ok {
		lang = base
	}
	for _, l := range Langs {
		if l == lang {
			return l
		}
	}
	return Langs[0]
}

// K marks a string literal as a catalogue key kept for later translation (a lesson step's
// title, say), so the catalogue test sees it used.
func K(key string) string { return key }

// T translates key into ctx's language; args fill its %-verbs. A key missing from the
// catalogue shows as itself, so a gap is visible rather than blank (the test forbids it).
func T(ctx context.Context, key string, args ...any) string {
	return Tr(LangOf(ctx), key, args...)
}

// Tr is T with the language given.
func Tr(lang, key string, args ...any) string {
	msg, ok := catalogues[Supported(lang)][key]
	if !ok {
		msg, ok = catalogues[Langs[0]][key]
	}
	if !ok {
		return key
	}
	if len(args) > 0 {
		return fmt.Sprintf(msg, said(lang, args)...)
	}
	return msg
}

// Keyed is a message kept as its catalogue key and arguments, to be said later in a
// page's language. Msg is the dashboard's; the components' (stepper.Text) has the same
// method without importing this package. An argument of Tr that is Keyed is said in the
// same language as the message around it.
type Keyed interface {
	Msg() (key string, args []any)
}

// Msg is a message as its key and arguments.
type Msg struct {
	Key  string
	Args []any
}

// Msg returns the key and arguments.
func (m Msg) Msg() (string, []any) { return m.Key, m.Args }

// In says m in lang; a Msg without a key is empty.
func (m Msg) In(lang string) string {
	if m.Key == "" {
		return ""
	}
	return Tr(lang, m.Key, m.Args...)
}

// said replaces Keyed arguments by their sentence in lang (a copy; args is not changed).
func said(lang string, args []any) []any {
	var out []any
	for i, a := range args {
		k, ok := a.(Keyed)
		if !ok {
			continue
		}
		if out == nil {
			out = append([]any(nil), args...)
		}
		key, kargs := k.Msg()
		out[i] = ""
		if key != "" {
			out[i] = Tr(lang, key, kargs...)
		}
	}
	if out == nil {
		return args
	}
	return out
}

// Negotiate picks the language: a remembered choice (cookie) wins, then the first of the
// browser's Accept-Language ranges (by q) that the dashboard speaks, else English.
func Negotiate(cookie, acceptLanguage string) string {
	if c := strings.TrimSpace(cookie); c != "" && Supported(c) == strings.ToLower(c) {
		return Supported(c)
	}
	type rng struct {
		lang string
		q    float64
		i    int
	}
	var rs []rng
	for i, part := range strings.Split(acceptLanguage, ",") {
		tag, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		q := 1.0
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				q = f
			}
		}
		if tag != "" && q > 0 {
			rs = append(rs, rng{strings.ToLower(tag), q, i})
		}
	}
	sort.SliceStable(rs, func(a, b int) bool { return rs[a].q > rs[b].q })
	for _, r := range rs {
		base, _, _ := strings.Cut(r.lang, "-")
		for _, l := range Langs {
			if l == base {
				return l
			}
		}
	}
	return Langs[0]
}
