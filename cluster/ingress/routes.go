package ingress

import (
	"sort"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"
)

// route is where one request goes: an Ingress's backend, with what matched.
type route struct {
	ingress *networkingv1.Ingress
	backend *networkingv1.IngressBackend
	path    string // the rule's path ("" for a default backend)
}

// Host tiers, best first: a rule naming the request's host exactly, a wildcard rule
// (*.example.com matches one label), a rule naming no host.
const (
	tierExact = iota
	tierWildcard
	tierAny
	tierNone
)

func hostTier(ruleHost, host string) int {
	switch {
	case ruleHost == "":
		return tierAny
	case ruleHost == host:
		return tierExact
	case strings.HasPrefix(ruleHost, "*."):
		label, rest, ok := strings.Cut(host, ".")
		if ok && label != "" && "."+rest == ruleHost[1:] {
			return tierWildcard
		}
	}
	return tierNone
}

// pathMatches follows the Ingress API's path types. Exact: the whole path, case
// sensitive. Prefix: element by element split on '/', ignoring a trailing '/', so /foo
// matches /foo, /foo/ and /foo/bar but not /foobar. ImplementationSpecific is treated as
// Prefix here.
func pathMatches(pt *networkingv1.PathType, rulePath, reqPath string) bool {
	if pt != nil && *pt == networkingv1.PathTypeExact {
		return rulePath == reqPath
	}
	if rulePath == "" || rulePath == "/" {
		return true
	}
	want := strings.Split(strings.TrimSuffix(rulePath, "/"), "/")
	got := strings.Split(strings.TrimSuffix(reqPath, "/"), "/")
	if len(got) < len(want) {
		return false
	}
	for i := range want {
		if want[i] != got[i] {
			return false
		}
	}
	return true
}

// pick finds the route for host and path among ings (this controller's Ingresses, all of
// them merged as one table, as ingress controllers do). The best host tier with a matching
// path wins; within it the longest path, Exact before Prefix at equal length, then the
// oldest Ingress. With no matching path, the oldest Ingress's defaultBackend serves; nil
// means no rule (404).
func pick(ings []*networkingv1.Ingress, host, path string) *route {
	sort.Slice(ings, func(i, j int) bool { return older(ings[i], ings[j]) })
	var best *route
	bestTier, bestLen, bestExact := tierNone, -1, false
	for _, ing := range ings {
		for _, rule := range ing.Spec.Rules {
			tier := hostTier(rule.Host, host)
			if tier == tierNone || tier > bestTier || rule.HTTP == nil {
				continue
			}
			for i := range rule.HTTP.Paths {
				p := &rule.HTTP.Paths[i]
				if !pathMatches(p.PathType, p.Path, path) {
					continue
				}
				exact := p.PathType != nil && *p.PathType == networkingv1.PathTypeExact
				better := tier < bestTier || len(p.Path) > bestLen || (len(p.Path) == bestLen && exact && !bestExact)
				if best == nil || better {
					best = &route{ingress: ing, backend: &p.Backend, path: p.Path}
					bestTier, bestLen, bestExact = tier, len(p.Path), exact
				}
			}
		}
	}
	if best != nil {
		return best
	}
	for _, ing := range ings {
		if ing.Spec.DefaultBackend != nil {
			return &route{ingress: ing, backend: ing.Spec.DefaultBackend}
		}
	}
	return nil
}

func older(a, b *networkingv1.Ingress) bool {
	if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
		return a.CreationTimestamp.Before(&b.CreationTimestamp)
	}
	return a.Namespace+"/"+a.Name < b.Namespace+"/"+b.Name
}
