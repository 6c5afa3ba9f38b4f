package serviceproxy

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
)

// fakeIPTables records what an iptablesProxier writes, keeping no state of its own.
type fakeIPTables struct {
	mu       sync.Mutex
	restores []string
}

func (f *fakeIPTables) run(stdin string, args ...string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case args[0] == "iptables-restore":
		f.restores = append(f.restores, stdin)
	case len(args) > 3 && args[3] == "-D":
		return "", errors.New("no such rule") // nothing to delete: no jump was recorded
	}
	return "", nil
}

// A (re)started proxy writes its first rules only once it knows every Service, all in
// one iptables-restore: written one Service at a time, each write would have dropped the
// chains of the Services not synced yet, which the previous webkube left serving
// (issue 9 item 8: a restart blipped every Service).
func TestIPTablesFirstWriteHasEveryService(t *testing.T) {
	var objs []runtime.Object
	for _, name := range []string{"a", "b", "c", "d", "e", "f"} {
		objs = append(objs,
			&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"}, Spec: corev1.ServiceSpec{
				ClusterIP: "10.96.0." + string(rune('1'+len(objs)/2)), Ports: []corev1.ServicePort{{Name: "http", Port: 80}}}},
			&corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"}, Subsets: []corev1.EndpointSubset{{
				Addresses: []corev1.EndpointAddress{{IP: "10.244.1." + string(rune('1'+len(objs)/2))}},
				Ports:     []corev1.EndpointPort{{Name: "http", Port: 3000}}}}})
	}
	p, err := New(Config{Client: fake.NewSimpleClientset(objs...), Mode: ModeIPTables, Instance: "start-test"})
	if err != nil {
		t.Fatal(err)
	}
	ipt := &fakeIPTables{}
	p.kernel.run = ipt.run
	ctx, cancel := context.WithCancel(context.Background())
	defer func() { cancel(); <-p.Done() }()
	if err := p.Start(ctx); err != nil {
		t.Fatal(err)
	}
	hasAll := func(rules string) bool {
		for _, name := range []string{"a", "b", "c", "d", "e", "f"} {
			if !strings.Contains(rules, "default/"+name+":http") {
				return false
			}
		}
		return true
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		ipt.mu.Lock()
		n := len(ipt.restores)
		done := n > 0 && hasAll(ipt.restores[n-1])
		ipt.mu.Unlock()
		if done {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no rules for all six Services after 5 s (%d writes)", n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	ipt.mu.Lock()
	defer ipt.mu.Unlock()
	if !hasAll(ipt.restores[0]) {
		t.Fatalf("the first of %d iptables-restores lacks Services, dropping their chains:\n%s", len(ipt.restores), ipt.restores[0])
	}
}
