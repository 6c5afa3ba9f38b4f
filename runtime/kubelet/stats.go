package kubelet

import (
	"context"
	"sort"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"webkube/runtime/containers"
	"webkube/runtime/stats"
)

// Summary is the kubelet's /stats/summary: the host's usage as the node's, and each
// running container's from its cgroup. CPU rates are taken between requests (the metrics
// API's scrapes), so the first figure is the average since the container started.
func (k *Kubelet) Summary(ctx context.Context) (*stats.Summary, error) {
	now := k.cfg.Clock.Now()
	sum := &stats.Summary{Node: stats.NodeStats{NodeName: k.cfg.NodeName}, Pods: []stats.PodStats{}}
	if host, err := stats.Host(); err == nil {
		sum.Node.CPU = k.rates.CPU("node", host.CPUNanoSeconds, host.Start, now)
		sum.Node.Memory = &stats.MemoryStats{Time: sum.Node.CPU.Time, WorkingSetBytes: host.WorkingSetBytes}
	}
	list, err := k.cfg.Runtime.List(ctx, "")
	if err != nil {
		return nil, err
	}
	pods := map[string]*stats.PodStats{}
	keep := map[string]bool{"node": true}
	for _, c := range list {
		if c.State != containers.StateRunning || c.Pid == 0 {
			continue
		}
		u, err := stats.Process(c.Pid)
		if err != nil {
			k.log.Debug("container stats", "pod", c.Namespace+"/"+c.PodName, "container", c.Name, "err", err)
			continue // exited meanwhile
		}
		keep[c.ID] = true
		cpu := k.rates.CPU(c.ID, u.CPUNanoSeconds, c.StartedAt, now)
		p := pods[c.PodUID]
		if p == nil {
			p = &stats.PodStats{PodRef: stats.PodReference{Name: c.PodName, Namespace: c.Namespace, UID: c.PodUID}}
			pods[c.PodUID] = p
		}
		p.Containers = append(p.Containers, stats.ContainerStats{Name: c.Name, StartTime: metav1.NewTime(c.StartedAt), CPU: cpu,
			Memory: &stats.MemoryStats{Time: cpu.Time, WorkingSetBytes: u.WorkingSetBytes}})
	}
	k.rates.Forget(keep)
	for _, p := range pods {
		sum.Pods = append(sum.Pods, *p)
	}
	sort.Slice(sum.Pods, func(i, j int) bool {
		a, b := sum.Pods[i].PodRef, sum.Pods[j].PodRef
		return a.Namespace+"/"+a.Name < b.Namespace+"/"+b.Name
	})
	return sum, nil
}
