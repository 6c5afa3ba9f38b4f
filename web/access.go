package web

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	authzv1 "k8s.io/api/authorization/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"

	"webkube/web/i18n"
)

// The dashboard acts with its kubeconfig's credentials, so it asks the API server what
// they may do (SelfSubjectAccessReview, as `kubectl auth can-i` and k9s do) and the page
// disables what they may not, with the reason. The API server still decides every request.

// need is one API permission: verb on group/resource[/subresource].
type need struct{ verb, group, resource, sub string }

func (n need) String() string {
	r := n.resource
	if n.sub != "" {
		r += "/" + n.sub
	}
	if n.group != "" {
		r += "." + n.group
	}
	return n.verb + " " + r
}

// actionNeeds maps the page's actions (perms.js finds them by data-act) to what they need.
var actionNeeds = map[string]need{
	"delete:pod":        {"delete", "", "pods", ""},
	"delete:replicaset": {"delete", "apps", "replicasets", ""},
	"delete:deployment": {"delete", "apps", "deployments", ""},
	"delete:service":    {"delete", "", "services", ""},
	"scale:replicaset":  {"patch", "apps", "replicasets", "scale"},
	"scale:deployment":  {"patch", "apps", "deployments", "scale"},
	"cordon":            {"patch", "", "nodes", ""},
	"labels":            {"patch", "", "pods", ""},
	"exec":              {"create", "", "pods", "exec"}, // terminal, kill, make probe fail, send requests
	"logs":              {"get", "", "pods", "log"},
	"rollout":           {"patch", "apps", "deployments", ""},
	"create":            {"create", "", "pods", ""}, // lessons and the editor create pods first
}

// Denial says an action is not allowed: why, and the namespaces where it is.
type Denial struct {
	Reason    string   `json:"reason"`
	AllowedIn []string `json:"allowedIn,omitempty"`
}

// Access is the page's view of the user's permissions.
type Access struct {
	Deny map[string]Denial `json:"deny"`
	// Unknown is set when the API server has no SelfSubjectAccessReview (404): every
	// action is then offered and the API server answers each.
	Unknown bool `json:"unknown,omitempty"`
}

type accessEntry struct {
	allowed bool
	reason  string
	at      time.Time
}

// accessCache keeps answers for a while: permissions change rarely, pages render often.
type accessCache struct {
	mu      sync.Mutex
	entries map[string]accessEntry
	unknown bool
	// forbidden: informer index → the API server's refusal of its list or watch.
	forbidden map[int]string
}

const accessTTL = 30 * time.Second

// can asks once per accessTTL whether the user may do n in namespace ns ("" = every
// namespace, or a cluster-scoped resource). A 404 means the API server has no
// SelfSubjectAccessReview: allowed, unknown.
func (d *Dashboard) can(ctx context.Context, n need, ns string) (bool, string) {
	key := n.String() + "|" + ns
	now := d.now()
	d.access.mu.Lock()
	e, ok := d.access.entries[key]
	d.access.mu.Unlock()
	if ok && now.Sub(e.at) < accessTTL {
		return e.allowed, e.reason
	}
	review := &authzv1.SelfSubjectAccessReview{Spec: authzv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &authzv1.ResourceAttributes{
		Namespace: ns, Verb: n.verb, Group: n.group, Resource: n.resource, Subresource: n.sub}}}
	res, err := d.client.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, review, metav1.CreateOptions{})
	e = accessEntry{allowed: true, at: now}
	switch {
	case apierrors.IsNotFound(err):
		d.access.mu.Lock()
		d.access.unknown = true
		d.access.mu.Unlock()
	case err != nil:
		// Not cached: the next page asks again. The API server decides meanwhile.
		d.log.Warn("selfsubjectaccessreview", "need", n.String(), "namespace", ns, "err", err)
		return true, ""
	default:
		e.allowed, e.reason = res.Status.Allowed && !res.Status.Denied, res.Status.Reason
		if res.Status.EvaluationError != "" && e.reason == "" {
			e.reason = res.Status.EvaluationError
		}
	}
	d.access.mu.Lock()
	if d.access.entries == nil {
		d.access.entries = map[string]accessEntry{}
	}
	d.access.entries[key] = e
	d.access.mu.Unlock()
	return e.allowed, e.reason
}

// maxAccessNamespaces bounds the reviews one page asks for when an action is denied
// cluster-wide: the namespaces it is allowed in are looked up among the first of these.
const maxAccessNamespaces = 20

// accessFor says which of the page's actions are denied. Each is asked cluster-wide first;
// only a denied one is asked per namespace (a user bound to one namespace's Role).
func (d *Dashboard) accessFor(ctx context.Context) Access {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	nss := d.namespaceNames()
	if len(nss) > maxAccessNamespaces {
		nss = nss[:maxAccessNamespaces]
	}
	out := Access{Deny: map[string]Denial{}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for act, n := range actionNeeds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, reason := d.can(ctx, n, "")
			if ok {
				return
			}
			den := Denial{Reason: denyText(ctx, n, reason)}
			if n.resource != "nodes" {
				for _, ns := range nss {
					if ok, _ := d.can(ctx, n, ns); ok {
						den.AllowedIn = append(den.AllowedIn, ns)
					}
				}
			}
			mu.Lock()
			out.Deny[act] = den
			mu.Unlock()
		}()
	}
	wg.Wait()
	d.access.mu.Lock()
	out.Unknown = d.access.unknown
	d.access.mu.Unlock()
	return out
}

func denyText(ctx context.Context, n need, reason string) string {
	s := i18n.T(ctx, "attach.denied", n.String())
	if reason = strings.TrimSpace(reason); reason != "" {
		s += " (" + reason + ")"
	}
	return s
}

// namespaceNames are the namespaces the cached objects are in, sorted.
func (d *Dashboard) namespaceNames() []string {
	seen := map[string]bool{}
	pods, _ := d.l.pods.List(everything)
	for _, p := range pods {
		seen[p.Namespace] = true
	}
	svcs, _ := d.l.services.List(everything)
	for _, s := range svcs {
		seen[s.Namespace] = true
	}
	out := make([]string, 0, len(seen))
	for ns := range seen {
		out = append(out, ns)
	}
	sort.Strings(out)
	return out
}

// watchDenied notes the informers whose list or watch the API server forbids (a
// view-only user may not list Secrets, say): their caches never sync, so Start does not
// wait for them, and the page says what stays empty and why.
func (d *Dashboard) watchDenied(i int) cache.WatchErrorHandler {
	return func(r *cache.Reflector, err error) {
		if apierrors.IsForbidden(err) {
			d.access.mu.Lock()
			if d.access.forbidden == nil {
				d.access.forbidden = map[int]string{}
			}
			d.access.forbidden[i] = err.Error()
			d.access.mu.Unlock()
		}
		cache.DefaultWatchErrorHandler(r, err)
	}
}

// waitForCaches returns once every informer synced or was forbidden.
func (d *Dashboard) waitForCaches(ctx context.Context) error {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		pending := 0
		d.access.mu.Lock()
		for i, inf := range d.l.informers {
			if _, denied := d.access.forbidden[i]; !denied && !inf.HasSynced() {
				pending++
			}
		}
		d.access.mu.Unlock()
		if pending == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("web: %d caches did not sync: %w", pending, ctx.Err())
		case <-t.C:
		}
	}
}

// unwatchable says, for the page, what the user may not list or watch.
func (d *Dashboard) unwatchable() []string {
	d.access.mu.Lock()
	defer d.access.mu.Unlock()
	var out []string
	for _, msg := range d.access.forbidden {
		out = append(out, msg)
	}
	sort.Strings(out)
	return out
}
