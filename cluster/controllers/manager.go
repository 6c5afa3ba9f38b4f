// Package controllers wires webkube's controllers together the way kube-controller-manager
// does: one shared informer cache, the ReplicaSet (and ReplicationController), Deployment, Job, CronJob, StatefulSet, DaemonSet,
// garbage collector, ClusterRole aggregation, resourcequota and disruption controllers, each a client of the API server.
package controllers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/clock"

	"webkube/cluster/certs"
	"webkube/cluster/controllers/clusterroleaggregation"
	"webkube/cluster/controllers/cronjob"
	"webkube/cluster/controllers/csrsigning"
	"webkube/cluster/controllers/daemonset"
	"webkube/cluster/controllers/deployment"
	"webkube/cluster/controllers/disruption"
	"webkube/cluster/controllers/garbagecollector"
	"webkube/cluster/controllers/job"
	"webkube/cluster/controllers/podautoscaler"
	"webkube/cluster/controllers/replicaset"
	"webkube/cluster/controllers/replication"
	"webkube/cluster/controllers/resourcequota"
	"webkube/cluster/controllers/statefulset"
	"webkube/cluster/stepper"
)

// Config configures a Manager.
type Config struct {
	Client kubernetes.Interface
	// Clients, if set, gives each controller a client of its own (see Clients); Client
	// is then still the default informers' client.
	Clients *Clients
	Gate    *stepper.Gate // nil: never hold
	Clock   clock.WithTicker
	// CronJobClock, if set, is the CronJob controller's clock instead of Clock: a test moves
	// it to bring a schedule due while the other controllers keep real time.
	CronJobClock clock.WithTicker
	Logger       *slog.Logger
	// Informers lets the caller share one informer cache with other components (the
	// scheduler, the endpoints controller); default a new one.
	Informers informers.SharedInformerFactory
	// CA signs approved CertificateSigningRequests; without it none is signed.
	CA *certs.CA
}

// Manager runs the controllers.
type Manager struct {
	informers   informers.SharedInformerFactory
	ReplicaSet  *replicaset.Controller
	Replication *replicaset.Controller // ReplicationControllers, seen as ReplicaSets
	Deployment  *deployment.Controller
	GarbageColl *garbagecollector.Collector
	Job         *job.Controller
	CronJob     *cronjob.Controller
	Autoscaler  *podautoscaler.Controller
	StatefulSet *statefulset.Controller
	DaemonSet   *daemonset.Controller
	Aggregation *clusterroleaggregation.Controller
	Quota       *resourcequota.Controller
	Disruption  *disruption.Controller
	CSRSigning  *csrsigning.Controller // nil without Config.CA
}

// NewManager builds every controller; nothing runs until Start.
func NewManager(cfg Config) (*Manager, error) {
	if cfg.Client == nil {
		return nil, errors.New("controllers: Client is required")
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
	m := &Manager{informers: cfg.Informers}
	var err error
	if m.ReplicaSet, err = replicaset.New(replicaset.Config{Client: cfg.client("replicaset-controller"), Informers: cfg.Informers,
		Gate: cfg.Gate, Clock: cfg.Clock, Logger: cfg.Logger}); err != nil {
		return nil, fmt.Errorf("controllers: %w", err)
	}
	if m.Replication, err = replication.New(replicaset.Config{Client: cfg.client(replication.Component), Informers: cfg.Informers,
		Gate: cfg.Gate, Clock: cfg.Clock, Logger: cfg.Logger}); err != nil {
		return nil, fmt.Errorf("controllers: %w", err)
	}
	if m.Deployment, err = deployment.New(deployment.Config{Client: cfg.client("deployment-controller"), Informers: cfg.Informers,
		Gate: cfg.Gate, Clock: cfg.Clock, Logger: cfg.Logger}); err != nil {
		return nil, fmt.Errorf("controllers: %w", err)
	}
	if m.Job, err = job.New(job.Config{Client: cfg.client("job-controller"), Informers: cfg.Informers,
		Gate: cfg.Gate, Clock: cfg.Clock, Logger: cfg.Logger}); err != nil {
		return nil, fmt.Errorf("controllers: %w", err)
	}
	cronClock := cfg.Clock
	if cfg.CronJobClock != nil {
		cronClock = cfg.CronJobClock
	}
	if m.CronJob, err = cronjob.New(cronjob.Config{Client: cfg.client("job-controller"), Informers: cfg.Informers,
		Gate: cfg.Gate, Clock: cronClock, Logger: cfg.Logger}); err != nil {
		return nil, fmt.Errorf("controllers: %w", err)
	}
	if m.StatefulSet, err = statefulset.New(statefulset.Config{Client: cfg.client("statefulset-controller"), Informers: cfg.Informers,
		Gate: cfg.Gate, Clock: cfg.Clock, Logger: cfg.Logger}); err != nil {
		return nil, fmt.Errorf("controllers: %w", err)
	}
	if m.DaemonSet, err = daemonset.New(daemonset.Config{Client: cfg.client("daemonset-controller"), Informers: cfg.Informers,
		Gate: cfg.Gate, Clock: cfg.Clock, Logger: cfg.Logger}); err != nil {
		return nil, fmt.Errorf("controllers: %w", err)
	}
	if m.GarbageColl, err = garbagecollector.New(garbagecollector.Config{Client: cfg.client("garbage-collector"), Informers: cfg.Informers,
		Gate: cfg.Gate, Clock: cfg.Clock, Logger: cfg.Logger}); err != nil {
		return nil, fmt.Errorf("controllers: %w", err)
	}
	if m.Aggregation, err = clusterroleaggregation.New(clusterroleaggregation.Config{Client: cfg.client(clusterroleaggregation.Component),
		Informers: cfg.Informers, Clock: cfg.Clock, Logger: cfg.Logger}); err != nil {
		return nil, fmt.Errorf("controllers: %w", err)
	}
	if m.Quota, err = resourcequota.New(resourcequota.Config{Client: cfg.client(resourcequota.Component), Informers: cfg.Informers,
		Gate: cfg.Gate, Clock: cfg.Clock, Logger: cfg.Logger}); err != nil {
		return nil, fmt.Errorf("controllers: %w", err)
	}
	if m.Autoscaler, err = podautoscaler.New(podautoscaler.Config{Client: cfg.client(podautoscaler.Component), Informers: cfg.Informers,
		Gate: cfg.Gate, Clock: cfg.Clock, Logger: cfg.Logger}); err != nil {
		return nil, fmt.Errorf("controllers: %w", err)
	}
	if m.Disruption, err = disruption.New(disruption.Config{Client: cfg.client(disruption.Component), Informers: cfg.Informers,
		Gate: cfg.Gate, Clock: cfg.Clock, Logger: cfg.Logger}); err != nil {
		return nil, fmt.Errorf("controllers: %w", err)
	}
	if cfg.CA != nil {
		if m.CSRSigning, err = csrsigning.New(csrsigning.Config{Client: cfg.client(csrsigning.Component), Informers: cfg.Informers,
			CA: cfg.CA, Clock: cfg.Clock, Logger: cfg.Logger}); err != nil {
			return nil, fmt.Errorf("controllers: %w", err)
		}
	}
	return m, nil
}

// client is the named controller's own client, or the shared one.
func (cfg Config) client(component string) kubernetes.Interface {
	if cfg.Clients != nil {
		return cfg.Clients.For(component)
	}
	return cfg.Client
}

// Start starts the informers and all controllers; it returns once their caches have
// synced. They stop when ctx ends.
func (m *Manager) Start(ctx context.Context) error {
	// The collector first: it adds an index, which must happen before informers start.
	if err := m.GarbageColl.Start(ctx); err != nil {
		return err
	}
	if err := m.ReplicaSet.Start(ctx); err != nil {
		return err
	}
	if err := m.Replication.Start(ctx); err != nil {
		return err
	}
	if err := m.Job.Start(ctx); err != nil {
		return err
	}
	if err := m.CronJob.Start(ctx); err != nil {
		return err
	}
	if err := m.StatefulSet.Start(ctx); err != nil {
		return err
	}
	if err := m.DaemonSet.Start(ctx); err != nil {
		return err
	}
	if err := m.Aggregation.Start(ctx); err != nil {
		return err
	}
	if err := m.Quota.Start(ctx); err != nil {
		return err
	}
	if err := m.Autoscaler.Start(ctx); err != nil {
		return err
	}
	if err := m.Disruption.Start(ctx); err != nil {
		return err
	}
	if m.CSRSigning != nil {
		if err := m.CSRSigning.Start(ctx); err != nil {
			return err
		}
	}
	return m.Deployment.Start(ctx)
}
