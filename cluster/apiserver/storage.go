package apiserver

import (
	"context"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	storagev1 "k8s.io/api/storage/v1"
	apiextv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"webkube/cluster/defaulting"
	"webkube/cluster/printers"
)

// defaultStorageClass is kube-apiserver's DefaultStorageClass admission plugin: a new
// claim that names no class gets the default one (the newest, when several are marked
// default); with no default class it stays without one and only binds to PVs without a
// class.
func (s *Server) defaultStorageClass(ctx context.Context, pvc *corev1.PersistentVolumeClaim) error {
	if pvc.Spec.StorageClassName != nil {
		return nil
	}
	if _, ok := pvc.Annotations[printers.BetaStorageClassAnnotation]; ok {
		return nil
	}
	name, err := s.defaultClassName(ctx)
	if err != nil || name == "" {
		return err
	}
	pvc.Spec.StorageClassName = &name
	return nil
}

func (s *Server) defaultClassName(ctx context.Context) (string, error) {
	r := resourceFor(storageV1.WithResource("storageclasses").GroupResource())
	kvs, _, err := s.store.List(ctx, r.listPrefix(""), 0)
	if err != nil {
		return "", err
	}
	var best *storagev1.StorageClass
	for _, kv := range kvs {
		obj, err := decodeKV(r, kv)
		if err != nil {
			return "", err
		}
		sc := obj.(*storagev1.StorageClass)
		if !printers.IsDefaultClass(sc) {
			continue
		}
		if best == nil || sc.CreationTimestamp.After(best.CreationTimestamp.Time) ||
			(sc.CreationTimestamp.Equal(&best.CreationTimestamp) && sc.Name < best.Name) {
			best = sc
		}
	}
	if best == nil {
		return "", nil
	}
	return best.Name, nil
}

// admit runs the admission webkube does beyond defaulting on a new object: the plugins
// that must read other objects.
func (s *Server) admit(ctx context.Context, obj any) error {
	switch o := obj.(type) {
	case *corev1.Pod:
		defaulting.Admit(o)
		if err := s.admitLimitRanges(ctx, o); err != nil {
			return err
		}
		if err := s.admitPodServiceAccount(ctx, o); err != nil {
			return err
		}
		return s.admitPriority(ctx, o)
	case *schedulingv1.PriorityClass:
		return s.admitPriorityClass(ctx, o)
	case *corev1.PersistentVolumeClaim:
		addFinalizer(&o.ObjectMeta, pvcProtectionFinalizer)
		if err := s.admitLimitRanges(ctx, o); err != nil {
			return err
		}
		return s.defaultStorageClass(ctx, o)
	case *corev1.PersistentVolume:
		addFinalizer(&o.ObjectMeta, pvProtectionFinalizer)
	case *networkingv1.Ingress:
		return s.defaultIngressClass(ctx, o)
	case *apiextv1.CustomResourceDefinition:
		return admitCRD(ctx, o)
	case *unstructured.Unstructured:
		return s.admitCustom(ctx, o)
	case *certificatesv1.CertificateSigningRequest:
		return admitCSR(ctx, o)
	}
	return nil
}

// The StorageObjectInUseProtection admission plugin's finalizers: the persistent volume
// controller removes them once a claim is used by no pod and a volume is bound to no claim.
const (
	pvcProtectionFinalizer = "kubernetes.io/pvc-protection"
	pvProtectionFinalizer  = "kubernetes.io/pv-protection"
)

func addFinalizer(m *metav1.ObjectMeta, f string) {
	for _, have := range m.Finalizers {
		if have == f {
			return
		}
	}
	m.Finalizers = append(m.Finalizers, f)
}
