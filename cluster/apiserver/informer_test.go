package apiserver_test

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"

	"webkube/cluster/apiserver/apiservertest"
)

// A client-go informer lists and watches pods through 1000 writes and a restart of the
// server, and ends with exactly the store's set (names and resourceVersions).
func TestInformerThroughRestart(t *testing.T) {
	srv := apiservertest.Start(t)
	cs := srv.Clientset()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	factory := informers.NewSharedInformerFactory(cs, 0)
	inf := factory.Core().V1().Pods().Informer()
	factory.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
		t.Fatal("informer never synced")
	}

	const workers, perWorker = 4, 250
	var acked sync.WaitGroup
	half := make(chan struct{})
	var done int64
	var mu sync.Mutex
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		acked.Add(1)
		go func(w int) {
			defer acked.Done()
			pods := cs.CoreV1().Pods("default")
			exists := map[string]bool{}
			for i := 0; i < perWorker; i++ {
				name := fmt.Sprintf("w%d-p%d", w, i%40)
				err := retry(ctx, func() error {
					switch {
					case !exists[name]:
						_, err := pods.Create(ctx, pod(name, map[string]string{"gen": "0"}), metav1.CreateOptions{})
						if apierrors.IsAlreadyExists(err) {
							return nil // the create landed before the connection broke
						}
						return err
					case i%5 == 0:
						err := pods.Delete(ctx, name, metav1.DeleteOptions{})
						if apierrors.IsNotFound(err) {
							return nil
						}
						return err
					default:
						patch := []byte(`{"metadata":{"labels":{"gen":"` + strconv.Itoa(i) + `"}}}`)
						_, err := pods.Patch(ctx, name, "application/merge-patch+json", patch, metav1.PatchOptions{})
						return err
					}
				})
				if err != nil {
					errs <- fmt.Errorf("worker %d write %d: %w", w, i, err)
					return
				}
				if exists[name] && i%5 == 0 {
					delete(exists, name)
				} else {
					exists[name] = true
				}
				mu.Lock()
				done++
				n := done
				mu.Unlock()
				if n == workers*perWorker/2 {
					close(half)
				}
			}
		}(w)
	}
	select {
	case <-half:
		srv.Restart(t) // while the writers keep going
	case <-ctx.Done():
		t.Fatal("writes stalled before half way")
	}
	acked.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	want := storePods(t, srv)
	deadline := time.Now().Add(30 * time.Second)
	var got []string
	for time.Now().Before(deadline) {
		got = got[:0]
		for _, o := range inf.GetStore().List() {
			p := o.(*corev1.Pod)
			got = append(got, p.Namespace+"/"+p.Name+"@"+p.ResourceVersion)
		}
		sort.Strings(got)
		if strings.Join(got, ",") == strings.Join(want, ",") {
			if len(want) == 0 {
				t.Fatal("no pods left: the test wrote nothing useful")
			}
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("informer has %d pods, store %d:\ninformer %v\nstore    %v", len(got), len(want), got, want)
}

// storePods lists pods straight from the store: namespace/name@modRevision.
func storePods(t *testing.T, srv *apiservertest.Server) []string {
	t.Helper()
	kvs, _, err := srv.Store.List(context.Background(), "/registry/core/pods/", 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, kv := range kvs {
		out = append(out, strings.TrimPrefix(kv.Key, "/registry/core/pods/")+"@"+strconv.FormatInt(kv.ModRevision, 10))
	}
	sort.Strings(out)
	return out
}

// retry repeats f while the server is unreachable (it is restarting).
func retry(ctx context.Context, f func() error) error {
	for {
		err := f()
		if err == nil || !isTransient(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func isTransient(err error) bool {
	if apierrors.IsServiceUnavailable(err) || apierrors.IsInternalError(err) || apierrors.IsTimeout(err) || apierrors.IsServerTimeout(err) {
		return true
	}
	var se apierrors.APIStatus
	return !asStatus(err, &se)
}
