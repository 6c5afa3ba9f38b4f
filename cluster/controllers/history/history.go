// Package history keeps the ControllerRevisions of StatefulSets and DaemonSets as
// Kubernetes' controller history does: each distinct pod template is one revision, named
// <owner>-<hash>, numbered in the order it became current, and labelled so `kubectl rollout
// history` finds it by the owner's selector. Going back to an older template renumbers its
// revision rather than creating a copy (kubectl rollout undo).
package history

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"sort"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/client-go/kubernetes"
	appslisters "k8s.io/client-go/listers/apps/v1"
)

// HashLabel is the pod and revision label naming a revision.
const HashLabel = appsv1.ControllerRevisionHashLabelKey

// Owner is the object whose template history is kept.
type Owner struct {
	Object      metav1.Object
	GVK         schema.GroupVersionKind
	Selector    *metav1.LabelSelector
	Labels      map[string]string // the pod template's labels, put on each revision
	Template    any               // the pod template, stored as the revision's patch
	Collisions  *int32            // status.collisionCount
	HistorySize int32             // spec.revisionHistoryLimit
}

// Patch is what kube's controllers store in a revision: the template alone, marked to
// replace, so `kubectl rollout undo` can apply it as a strategic merge patch.
func Patch(template any) ([]byte, error) {
	raw, err := json.Marshal(template)
	if err != nil {
		return nil, err
	}
	var t map[string]any
	if err := json.Unmarshal(raw, &t); err != nil {
		return nil, err
	}
	t["$patch"] = "replace"
	return json.Marshal(map[string]any{"spec": map[string]any{"template": t}})
}

// Hash is the revision's name suffix: FNV-32a of its data and the collision count.
func Hash(data []byte, collisions *int32) string {
	h := fnv.New32a()
	h.Write(data)
	if collisions != nil {
		h.Write([]byte(strconv.FormatInt(int64(*collisions), 10)))
	}
	return rand.SafeEncodeString(fmt.Sprint(h.Sum32()))
}

// Store reads revisions from the cache and writes them through the client.
type Store struct {
	Client kubernetes.Interface
	Lister appslisters.ControllerRevisionLister
}

// Owned lists the owner's revisions, oldest first.
func (s Store) Owned(o Owner) ([]*appsv1.ControllerRevision, error) {
	sel, err := metav1.LabelSelectorAsSelector(o.Selector)
	if err != nil {
		return nil, err
	}
	all, err := s.Lister.ControllerRevisions(o.Object.GetNamespace()).List(labels.Everything())
	if err != nil {
		return nil, err
	}
	var out []*appsv1.ControllerRevision
	for _, r := range all {
		ref := metav1.GetControllerOfNoCopy(r)
		if ref != nil && ref.UID == o.Object.GetUID() && sel.Matches(labels.Set(r.Labels)) {
			out = append(out, r)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Revision != out[j].Revision {
			return out[i].Revision < out[j].Revision
		}
		return out[i].Name < out[j].Name
	})
	return out, nil
}

// Update returns the revision of the owner's current template, creating it or
// renumbering an equal older one to be the newest. revs is Owned's answer.
func (s Store) Update(ctx context.Context, o Owner, revs []*appsv1.ControllerRevision) (*appsv1.ControllerRevision, error) {
	data, err := Patch(o.Template)
	if err != nil {
		return nil, err
	}
	next := int64(1)
	if n := len(revs); n > 0 {
		next = revs[n-1].Revision + 1
	}
	for i := len(revs) - 1; i >= 0; i-- {
		if !equalJSON(revs[i].Data.Raw, data) {
			continue
		}
		if i == len(revs)-1 {
			return revs[i], nil // already the newest
		}
		r := revs[i].DeepCopy()
		r.Revision = next
		return s.Client.AppsV1().ControllerRevisions(r.Namespace).Update(ctx, r, metav1.UpdateOptions{})
	}
	return s.create(ctx, o, data, next)
}

// create makes a new revision; a name taken by different data is a hash collision, and
// the owner's collision count goes up (the caller stores it in status).
func (s Store) create(ctx context.Context, o Owner, data []byte, number int64) (*appsv1.ControllerRevision, error) {
	client := s.Client.AppsV1().ControllerRevisions(o.Object.GetNamespace())
	for {
		hash := Hash(data, o.Collisions)
		lbls := map[string]string{}
		for k, v := range o.Labels {
			lbls[k] = v
		}
		lbls[HashLabel] = hash
		t := true
		r := &appsv1.ControllerRevision{
			ObjectMeta: metav1.ObjectMeta{
				Name: o.Object.GetName() + "-" + hash, Namespace: o.Object.GetNamespace(), Labels: lbls,
				OwnerReferences: []metav1.OwnerReference{{APIVersion: o.GVK.GroupVersion().String(), Kind: o.GVK.Kind,
					Name: o.Object.GetName(), UID: o.Object.GetUID(), Controller: &t, BlockOwnerDeletion: &t}},
			},
			Data:     runtime.RawExtension{Raw: data},
			Revision: number,
		}
		created, err := client.Create(ctx, r, metav1.CreateOptions{})
		if !apierrors.IsAlreadyExists(err) {
			return created, err
		}
		existing, gerr := client.Get(ctx, r.Name, metav1.GetOptions{})
		if gerr != nil {
			return nil, gerr
		}
		if ref := metav1.GetControllerOf(existing); ref != nil && ref.UID == o.Object.GetUID() && equalJSON(existing.Data.Raw, data) {
			return existing, nil // ours, from a sync the cache has not shown yet
		}
		if o.Collisions == nil {
			o.Collisions = new(int32)
		}
		*o.Collisions++
	}
}

func equalJSON(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return bytes.Equal(xa, ya)
}

// Truncate deletes the oldest revisions beyond the owner's history limit, keeping those
// named in keep (the current and update revisions, and any a live pod still runs).
func (s Store) Truncate(ctx context.Context, o Owner, revs []*appsv1.ControllerRevision, keep map[string]bool) error {
	var old []*appsv1.ControllerRevision
	for _, r := range revs {
		if !keep[r.Name] {
			old = append(old, r)
		}
	}
	for i := 0; i < len(old)-int(o.HistorySize); i++ {
		err := s.Client.AppsV1().ControllerRevisions(old[i].Namespace).Delete(ctx, old[i].Name, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			return err
		}
	}
	return nil
}

// Template decodes the pod template a revision stores.
func Template(r *appsv1.ControllerRevision) (*corev1.PodTemplateSpec, error) {
	var doc struct {
		Spec struct {
			Template corev1.PodTemplateSpec `json:"template"`
		} `json:"spec"`
	}
	if err := json.Unmarshal(r.Data.Raw, &doc); err != nil {
		return nil, fmt.Errorf("revision %s: %w", r.Name, err)
	}
	return &doc.Spec.Template, nil
}
