package controllers

import (
	"fmt"
	"sync"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// Clients makes each component its own client, as kube-controller-manager gives each
// controller one: its own rate limiter (base's QPS and Burst: webkube's ceiling, 500/s
// and 1000 where kube-controller-manager's default is 20 and 30), and its name in the
// User-Agent. One shared limiter made a garbage collector deleting 1,000 pods wait
// behind the kubelets' status updates, and all of them behind it.
type Clients struct {
	base *rest.Config
	mu   sync.Mutex
	made map[string]kubernetes.Interface
}

// NewClients checks base (by making the first client) and returns a Clients.
func NewClients(base *rest.Config) (*Clients, error) {
	if _, err := kubernetes.NewForConfig(base); err != nil {
		return nil, fmt.Errorf("controllers: client config: %w", err)
	}
	return &Clients{base: rest.CopyConfig(base), made: map[string]kubernetes.Interface{}}, nil
}

// For returns component's client, the same one on every call.
func (c *Clients) For(component string) kubernetes.Interface {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cs, ok := c.made[component]; ok {
		return cs
	}
	cfg := rest.CopyConfig(c.base)
	cfg.RateLimiter = nil // a new limiter of QPS and Burst for this client alone
	if cfg.UserAgent == "" {
		cfg.UserAgent = "webkube"
	}
	cfg.UserAgent += "/" + component
	cs := kubernetes.NewForConfigOrDie(cfg) // cannot fail: NewClients made one from the same config
	c.made[component] = cs
	return cs
}
