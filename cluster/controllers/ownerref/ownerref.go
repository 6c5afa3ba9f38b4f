// Package ownerref decides which objects a controller owns, as Kubernetes' ControllerRefManager
// does: an object carrying the owner's controller reference is kept while the owner's selector
// still matches it and released (the reference patched away) when it no longer does; an
// orphan that matches is adopted (a controller reference patched on) unless either side is
// being deleted. Objects controlled by someone else are never touched.
package ownerref

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
)

// Patcher applies a strategic merge patch to the named object of the managed kind.
type Patcher func(ctx context.Context, namespace, name string, patch []byte) error

// Manager claims objects for one owner.
type Manager struct {
	Owner    metav1.Object
	OwnerGVK schema.GroupVersionKind
	Selector labels.Selector
	Patch    Patcher
	// CanAdopt re-reads the owner from the API server (not the cache) and fails if it is
	// gone or being deleted, so a stale cache never makes a dying owner adopt. Called at
	// most once per Manager.
	CanAdopt func(ctx context.Context) error

	once     sync.Once
	adoptErr error
}

// Claim returns the objects this owner should manage, adopting and releasing on the way.
// Errors from individual patches are returned joined; the claimed list is still valid.
func Claim[T metav1.Object](ctx context.Context, m *Manager, objs []T) ([]T, error) {
	var claimed []T
	var errs []error
	for _, o := range objs {
		ok, err := m.claim(ctx, o)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if ok {
			claimed = append(claimed, o)
		}
	}
	if len(errs) > 0 {
		return claimed, fmt.Errorf("claim: %v", errs)
	}
	return claimed, nil
}

func (m *Manager) claim(ctx context.Context, o metav1.Object) (bool, error) {
	match := m.Selector.Matches(labels.Set(o.GetLabels()))
	if ref := metav1.GetControllerOfNoCopy(o); ref != nil {
		if ref.UID != m.Owner.GetUID() {
			return false, nil // someone else's
		}
		if match {
			return true, nil
		}
		// Ours but no longer selected. A dying owner leaves it for the garbage collector.
		if m.Owner.GetDeletionTimestamp() != nil {
			return false, nil
		}
		if err := m.release(ctx, o); err != nil {
			if apierrors.IsNotFound(err) {
				return false, nil
			}
			return false, err
		}
		return false, nil
	}
	// An orphan.
	if m.Owner.GetDeletionTimestamp() != nil || !match || o.GetDeletionTimestamp() != nil {
		return false, nil
	}
	if err := m.adopt(ctx, o); err != nil {
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		return false, err
	}
	return true, nil
}

type patchRef struct {
	APIVersion         string    `json:"apiVersion,omitempty"`
	Kind               string    `json:"kind,omitempty"`
	Name               string    `json:"name,omitempty"`
	UID                types.UID `json:"uid"`
	Controller         *bool     `json:"controller,omitempty"`
	BlockOwnerDeletion *bool     `json:"blockOwnerDeletion,omitempty"`
	Patch              string    `json:"$patch,omitempty"`
}

type patchMeta struct {
	Metadata struct {
		OwnerReferences []patchRef `json:"ownerReferences"`
		// The object's UID makes the patch fail if the name now belongs to a new object.
		UID types.UID `json:"uid"`
	} `json:"metadata"`
}

func (m *Manager) adopt(ctx context.Context, o metav1.Object) error {
	m.once.Do(func() {
		if m.CanAdopt != nil {
			m.adoptErr = m.CanAdopt(ctx)
		}
	})
	if m.adoptErr != nil {
		return fmt.Errorf("can't adopt %s: %w", o.GetName(), m.adoptErr)
	}
	t := true
	var p patchMeta
	p.Metadata.UID = o.GetUID()
	p.Metadata.OwnerReferences = []patchRef{{
		APIVersion: m.OwnerGVK.GroupVersion().String(), Kind: m.OwnerGVK.Kind,
		Name: m.Owner.GetName(), UID: m.Owner.GetUID(), Controller: &t, BlockOwnerDeletion: &t,
	}}
	b, _ := json.Marshal(p)
	return m.Patch(ctx, o.GetNamespace(), o.GetName(), b)
}

func (m *Manager) release(ctx context.Context, o metav1.Object) error {
	var p patchMeta
	p.Metadata.UID = o.GetUID()
	p.Metadata.OwnerReferences = []patchRef{{UID: m.Owner.GetUID(), Patch: "delete"}}
	b, _ := json.Marshal(p)
	err := m.Patch(ctx, o.GetNamespace(), o.GetName(), b)
	if apierrors.IsInvalid(err) {
		// The object changed under us (new UID, or the reference is already gone).
		return nil
	}
	return err
}

// RecheckOwner returns a CanAdopt function that fetches the owner fresh with get and
// fails if it was deleted, replaced (new UID), or is being deleted.
func RecheckOwner(owner metav1.Object, get func(ctx context.Context) (metav1.Object, error)) func(context.Context) error {
	return func(ctx context.Context) error {
		fresh, err := get(ctx)
		if err != nil {
			return err
		}
		if fresh.GetUID() != owner.GetUID() {
			return fmt.Errorf("original %s is gone: got uid %v, wanted %v", owner.GetName(), fresh.GetUID(), owner.GetUID())
		}
		if fresh.GetDeletionTimestamp() != nil {
			return fmt.Errorf("%s has just been deleted at %v", owner.GetName(), fresh.GetDeletionTimestamp())
		}
		return nil
	}
}
