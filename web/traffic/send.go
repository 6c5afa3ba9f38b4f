package traffic

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sort"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/utils/clock"
)

// MaxRequests bounds one press of "send requests".
const MaxRequests = 50

// Refusals before anything is sent.
var (
	ErrCount    = fmt.Errorf("the number of requests must be 1 to %d", MaxRequests)
	ErrNoSend   = errors.New("only a Service with a selector, a ClusterIP and a TCP port sends to pods")
	ErrNoClient = errors.New("no running pod to send the requests from")
)

// Execer runs a command in a container through the API (pods/exec) and collects stdout.
type Execer func(ctx context.Context, ns, pod, container string, cmd []string, stdout io.Writer) error

// Counter reports the connections the service proxy has handed each endpoint of a
// Service ("ip:port" → count) since it started.
type Counter func(ns, svc string) map[string]uint64

// Sender sends requests to Services from inside the cluster.
type Sender struct {
	Exec  Execer
	Count Counter // nil: the requests are sent but not attributed to pods
	Clock clock.Clock
	// Settle bounds the wait for the proxy's counters to show the connections (the kernel
	// rule counters are read at most once a second); default 3 s.
	Settle time.Duration
}

// Result is what one press did.
type Result struct {
	From     string // namespace/pod the requests went out from
	Backend  bool   // that pod is itself behind the Service
	URL      string
	Command  string // the same, as a kubectl command
	Sent     int
	OK       int    // answered with an HTTP success
	Failure  string // what the first failed request said
	Counted  uint64
	Counting bool // the proxy's counters were read
	Pods     []PodCount
}

// PodCount is how many of the connections the proxy gave one endpoint.
type PodCount struct {
	Pod, Address string
	Ready        bool
	N            uint64
}

// Send sends n HTTP GETs, one connection each, from a running pod to the Service's
// ClusterIP and port, and counts per endpoint the connections the proxy handed out
// meanwhile. pods are the candidates to send from (every namespace); ep may be nil.
func (s *Sender) Send(ctx context.Context, svc *corev1.Service, ep *corev1.Endpoints, pods []*corev1.Pod, n int) (Result, error) {
	v := Of(svc, ep, "")
	if n < 1 || n > MaxRequests {
		return Result{}, ErrCount
	}
	if !v.CanSend {
		return Result{}, ErrNoSend
	}
	client, backend := pickClient(svc, pods)
	if client == nil {
		return Result{}, ErrNoClient
	}
	url := "http://" + net.JoinHostPort(v.ClusterIP, strconv.Itoa(int(v.Port))) + "/"
	script := requestScript(url, n)
	r := Result{From: client.Namespace + "/" + client.Name, Backend: backend, URL: url, Sent: n,
		Command: fmt.Sprintf("kubectl exec -n %s %s -c %s -- sh -c '%s'", client.Namespace, client.Name, client.Spec.Containers[0].Name, script)}
	var before map[string]uint64
	if s.Count != nil {
		before = s.Count(svc.Namespace, svc.Name)
	}
	var out bytes.Buffer
	if err := s.Exec(ctx, client.Namespace, client.Name, client.Spec.Containers[0].Name, []string{"sh", "-c", script}, &out); err != nil {
		return r, fmt.Errorf("exec in %s: %w", r.From, err)
	}
	r.OK = strings.Count(out.String(), "ok\n")
	r.Failure = firstFailure(out.String())
	if s.Count == nil {
		return r, nil
	}
	r.Counting = true
	delta := s.settle(ctx, svc, before, n)
	r.Pods, r.Counted = perPod(ep, delta)
	return r, nil
}

// requestScript makes n requests one after another, a new connection each (busybox wget
// does not keep connections alive), and prints "ok" or "fail <why>" per request. Each is
// bounded by timeout(1), not `wget -T`, which Debian 12's busybox-static crashes on.
func requestScript(url string, n int) string {
	return fmt.Sprintf(`W=wget; command -v wget >/dev/null 2>&1 || W="busybox wget"; T="timeout 3"; command -v timeout >/dev/null 2>&1 || T=""; i=0; while [ $i -lt %d ]; do if E=$($T $W -q -O /dev/null %s 2>&1); then echo ok; else echo "fail $E"; fi; i=$((i+1)); done`, n, url)
}

// firstFailure is the first "fail" line's reason, "" when every request succeeded.
func firstFailure(out string) string {
	for _, l := range strings.Split(out, "\n") {
		if why, ok := strings.CutPrefix(l, "fail"); ok {
			if why = strings.TrimSpace(why); why == "" {
				why = "no answer"
			}
			return why
		}
	}
	return ""
}

// settle reads the counters until they account for the n connections, or Settle passes.
func (s *Sender) settle(ctx context.Context, svc *corev1.Service, before map[string]uint64, n int) map[string]uint64 {
	wait := s.Settle
	if wait == 0 {
		wait = 3 * time.Second
	}
	clk := s.Clock
	if clk == nil {
		clk = clock.RealClock{}
	}
	deadline := clk.Now().Add(wait)
	for {
		delta := map[string]uint64{}
		var sum uint64
		for addr, c := range s.Count(svc.Namespace, svc.Name) {
			if d := c - before[addr]; c > before[addr] {
				delta[addr] = d
				sum += d
			}
		}
		if sum >= uint64(n) || !clk.Now().Before(deadline) {
			return delta
		}
		select {
		case <-ctx.Done():
			return delta
		case <-clk.After(200 * time.Millisecond):
		}
	}
}

// perPod lists every endpoint with its count: the ready ones (each gets a row, 0 or not),
// then any other address that got connections.
func perPod(ep *corev1.Endpoints, delta map[string]uint64) ([]PodCount, uint64) {
	var out []PodCount
	seen := map[string]bool{}
	if ep != nil {
		for _, ss := range ep.Subsets {
			for _, p := range ss.Ports {
				if p.Protocol != "" && p.Protocol != corev1.ProtocolTCP {
					continue
				}
				for _, a := range ss.Addresses {
					addr := net.JoinHostPort(a.IP, strconv.Itoa(int(p.Port)))
					if seen[addr] {
						continue
					}
					seen[addr] = true
					pc := PodCount{Address: addr, Ready: true, N: delta[addr]}
					if a.TargetRef != nil {
						pc.Pod = a.TargetRef.Name
					}
					out = append(out, pc)
				}
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Pod < out[j].Pod })
	var sum uint64
	for _, pc := range out {
		sum += pc.N
	}
	var rest []string
	for addr := range delta {
		if !seen[addr] {
			rest = append(rest, addr)
		}
	}
	sort.Strings(rest)
	for _, addr := range rest {
		out = append(out, PodCount{Address: addr, N: delta[addr]})
		sum += delta[addr]
	}
	return out, sum
}

// pickClient chooses the pod to send from: a running pod not behind the Service, in its
// namespace first, then anywhere; else one of its own pods (a request may then come
// back to its sender, which the proxy handles as kube-proxy does).
func pickClient(svc *corev1.Service, pods []*corev1.Pod) (*corev1.Pod, bool) {
	sel := labels.SelectorFromSet(svc.Spec.Selector)
	var best *corev1.Pod
	bestRank := 99
	for _, p := range pods {
		if !running(p) {
			continue
		}
		rank := 0
		switch {
		case sel.Matches(labels.Set(p.Labels)) && p.Namespace == svc.Namespace:
			rank = 2
		case p.Namespace != svc.Namespace:
			rank = 1
		}
		if rank < bestRank || (rank == bestRank && p.Namespace+"/"+p.Name < best.Namespace+"/"+best.Name) {
			best, bestRank = p, rank
		}
	}
	return best, best != nil && bestRank == 2
}

func running(p *corev1.Pod) bool {
	if p.DeletionTimestamp != nil || p.Status.Phase != corev1.PodRunning || p.Spec.HostNetwork || len(p.Spec.Containers) == 0 {
		return false
	}
	for _, cs := range p.Status.ContainerStatuses {
		if cs.Name == p.Spec.Containers[0].Name {
			return cs.State.Running != nil
		}
	}
	return false
}
