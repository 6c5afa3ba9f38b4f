package containers

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/containerd/containerd/containers"
	"github.com/containerd/containerd/oci"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	corev1 "k8s.io/api/core/v1"
)

// userOpts applies the user and groups of the container's and pod's securityContext
// (the container's wins): runAsUser, runAsGroup, and the pod's supplementalGroups and
// fsGroup as the process's additional groups, as the kubelet asks of the runtime.
func userOpts(pod *corev1.Pod, c *corev1.Container) []oci.SpecOpts {
	var uid, gid *int64
	var extra []int64
	if psc := pod.Spec.SecurityContext; psc != nil {
		uid, gid = psc.RunAsUser, psc.RunAsGroup
		extra = append(extra, psc.SupplementalGroups...)
		if psc.FSGroup != nil {
			extra = append(extra, *psc.FSGroup)
		}
	}
	if csc := c.SecurityContext; csc != nil {
		if csc.RunAsUser != nil {
			uid = csc.RunAsUser
		}
		if csc.RunAsGroup != nil {
			gid = csc.RunAsGroup
		}
	}
	var so []oci.SpecOpts
	if uid != nil {
		so = append(so, oci.WithUserID(uint32(*uid))) // its group from the image's /etc/passwd
	}
	if uid == nil && gid == nil && len(extra) == 0 {
		return so
	}
	return append(so, func(_ context.Context, _ oci.Client, _ *containers.Container, s *oci.Spec) error {
		if s.Process == nil {
			s.Process = &specs.Process{}
		}
		if gid != nil {
			s.Process.User.GID = uint32(*gid)
		}
		// Only the pod's groups: the default spec's root group is not the user's.
		s.Process.User.AdditionalGids = nil
		for _, g := range extra {
			s.Process.User.AdditionalGids = append(s.Process.User.AdditionalGids, uint32(g))
		}
		return nil
	})
}

// applyFSGroup gives a volume's files the pod's fsGroup, as the kubelet's
// SetVolumeOwnership: group-owned by it, group readable (and writable where writable is
// wanted), directories setgid so new files inherit the group.
func applyFSGroup(dir string, fsGroup int64, writable bool) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type()&fs.ModeSymlink != 0 {
			return nil
		}
		if err := os.Lchown(p, -1, int(fsGroup)); err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		mode := info.Mode()
		add := fs.FileMode(0o040)
		if writable {
			add |= 0o020
		}
		if d.IsDir() {
			add |= 0o010 | fs.ModeSetgid
		}
		return os.Chmod(p, mode|add)
	})
}
