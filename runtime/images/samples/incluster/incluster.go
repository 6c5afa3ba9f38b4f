// Package incluster is a client-go program as a learner would write one to run inside a
// pod: rest.InClusterConfig (KUBERNETES_SERVICE_HOST/PORT, the service account's token and
// ca.crt) and a list of the pods of its namespace. It runs as `webkube sample incluster`
// in any built-in image that holds the webkube binary (ghcr.io/subicura/echo:v1).
package incluster

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

const namespaceFile = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"

// Main lists the pods of the pod's namespace and prints their names; -every repeats it.
func Main(args []string) error {
	fs := flag.NewFlagSet("incluster", flag.ContinueOnError)
	every := fs.Duration("every", 0, "list again at this interval (0: once)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := rest.InClusterConfig()
	if err != nil {
		return err
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	ns, err := os.ReadFile(namespaceFile)
	if err != nil {
		return err
	}
	for {
		if err := list(cs, strings.TrimSpace(string(ns))); err != nil {
			return err
		}
		if *every <= 0 {
			return nil
		}
		time.Sleep(*every)
	}
}

func list(cs kubernetes.Interface, ns string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("list pods in %s: %w", ns, err)
	}
	names := make([]string, len(pods.Items))
	for i, p := range pods.Items {
		names[i] = p.Name
	}
	fmt.Printf("%d pods in %s: %s\n", len(names), ns, strings.Join(names, " "))
	return nil
}
