// Package clusterroleaggregation is kube-controller-manager's clusterrole-aggregation
// controller: a ClusterRole with an aggregationRule (admin, edit, view) holds the rules of
// every ClusterRole its selectors match, kept up to date as those change, so a ClusterRole
// labelled rbac.authorization.k8s.io/aggregate-to-view: "true" widens view.
package clusterroleaggregation

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	rbaclisters "k8s.io/client-go/listers/rbac/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"

	"webkube/cluster/controllers/worker"
)

// Component is the controller's name, as kube-controller-manager's.
const Component = "clusterrole-aggregation-controller"

// Config configures a Controller.
type Config struct {
	Client    kubernetes.Interface
	Informers informers.SharedInformerFactory // shared; started by Start
	Clock     clock.WithTicker
	Logger    *slog.Logger
}

// Controller fills in aggregated ClusterRoles' rules.
type Controller struct {
	cfg    Config
	roles  rbaclisters.ClusterRoleLister
	synced cache.InformerSynced
	queue  workqueue.TypedRateLimitingInterface[string] // aggregated ClusterRoles' names
}

// New builds a Controller; Start runs it.
func New(cfg Config) (*Controller, error) {
	if cfg.Client == nil {
		return nil, errors.New("clusterroleaggregation: Client is required")
	}
	if cfg.Informers == nil {
		cfg.Informers = informers.NewSharedInformerFactory(cfg.Client, 0)
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	cfg.Logger = cfg.Logger.With("component", Component)
	inf := cfg.Informers.Rbac().V1().ClusterRoles()
	c := &Controller{cfg: cfg, roles: inf.Lister(), synced: inf.Informer().HasSynced,
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "clusterroleaggregation", Clock: cfg.Clock}),
	}
	// Any ClusterRole's change may change any aggregate: look at them all again.
	all := func(any) { c.enqueueAggregated() }
	if _, err := inf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: all, UpdateFunc: func(_, o any) { all(o) }, DeleteFunc: all,
	}); err != nil {
		return nil, fmt.Errorf("clusterroleaggregation: handler: %w", err)
	}
	return c, nil
}

func (c *Controller) enqueueAggregated() {
	roles, err := c.roles.List(labels.Everything())
	if err != nil {
		return
	}
	for _, r := range roles {
		if r.AggregationRule != nil {
			c.queue.Add(r.Name)
		}
	}
}

// Start starts the informers and the worker; it returns once the cache has synced.
func (c *Controller) Start(ctx context.Context) error {
	return worker.Loop[string]{Name: "clusterroleaggregation", Informers: c.cfg.Informers, Synced: []cache.InformerSynced{c.synced},
		Queue: c.queue, Workers: 1, Sync: c.Sync, Logger: c.cfg.Logger}.Start(ctx)
}

// Sync sets the rules of the aggregated ClusterRole name to the union of the rules of
// the ClusterRoles its selectors match, in name order, each rule once.
func (c *Controller) Sync(ctx context.Context, name string) error {
	role, err := c.roles.Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if role.AggregationRule == nil {
		return nil
	}
	rules, err := c.aggregate(role)
	if err != nil {
		return err
	}
	if equality.Semantic.DeepEqual(rules, role.Rules) {
		return nil
	}
	role = role.DeepCopy()
	role.Rules = rules
	_, err = c.cfg.Client.RbacV1().ClusterRoles().Update(ctx, role, metav1.UpdateOptions{})
	return err
}

func (c *Controller) aggregate(role *rbacv1.ClusterRole) ([]rbacv1.PolicyRule, error) {
	matched := map[string]*rbacv1.ClusterRole{}
	for i := range role.AggregationRule.ClusterRoleSelectors {
		sel, err := metav1.LabelSelectorAsSelector(&role.AggregationRule.ClusterRoleSelectors[i])
		if err != nil {
			return nil, nil // invalid selectors are refused at write; nothing to do
		}
		roles, err := c.roles.List(sel)
		if err != nil {
			return nil, err
		}
		for _, r := range roles {
			if r.Name != role.Name {
				matched[r.Name] = r
			}
		}
	}
	names := make([]string, 0, len(matched))
	for n := range matched {
		names = append(names, n)
	}
	sort.Strings(names)
	rules := []rbacv1.PolicyRule{}
	for _, n := range names {
		for _, r := range matched[n].Rules {
			if !hasRule(rules, r) {
				rules = append(rules, r)
			}
		}
	}
	return rules, nil
}

func hasRule(rules []rbacv1.PolicyRule, r rbacv1.PolicyRule) bool {
	for _, x := range rules {
		if equality.Semantic.DeepEqual(x, r) {
			return true
		}
	}
	return false
}
