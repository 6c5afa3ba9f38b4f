// Package i18n holds the dashboard's message catalogues (Korean and English), picks the
// language of a request (cookie, then Accept-Language) and translates keys. Kubernetes
// names (kinds, field paths, kubectl commands) stay as they are inside the messages.
package i18n

import (
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Langs are the languages the dashboard speaks; the first is the fallback.
var Langs = []string{"en", "ko"}

// Cookie is the name of the cookie that remembers a chosen language.
const Cookie = "webkube-lang"

//go:embed catalogue/*.json
var files embed.FS

var catalogues = mustLoad()

func mustLoad() map[string]map[string]string {
	out := map[string]map[string]string{}
	for _, l := range Langs {
		b, err := files.ReadFile("catalogue/" + l + ".json")
		if err != nil {
			panic(fmt.Sprintf("i18n: catalogue %s: %v", l, err))
		}
		m := map[string]string{}
		if err := json.Unmarshal(b, &m); err != nil {
			panic(fmt.Sprintf("i18n: catalogue %s: %v", l, err))
		}
		out[l] = m
	}
	return out
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
		return fmt.Sprintf(msg, args...)
	}
	return msg
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
