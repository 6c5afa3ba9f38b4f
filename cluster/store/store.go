// Package store keeps every Kubernetes object in SQLite as a revision log.
//
// Each write appends a row; the row's id is the revision, and the revision is what the
// API server hands out as metadata.resourceVersion. Reads at a past revision and watches
// from a past revision replay that log, the way etcd (and kine, which put etcd's API on
// SQL) do for kube-apiserver.
package store

import (
	"context"
	"errors"
)

// Errors returned by Store. The API server maps them to HTTP statuses at its edge.
var (
	ErrNotFound  = errors.New("store: key not found")
	ErrExists    = errors.New("store: key already exists")
	ErrConflict  = errors.New("store: revision conflict")  // expected mod revision did not match
	ErrCompacted = errors.New("store: revision compacted") // history before this revision is gone
	ErrFuture    = errors.New("store: revision is in the future")
	ErrClosed    = errors.New("store: closed")
)

// KeyValue is one key at one revision.
type KeyValue struct {
	Key            string
	Value          []byte
	CreateRevision int64 // revision of the create that started this key's life
	ModRevision    int64 // revision of the write that produced Value
}

// EventType says what a write did to a key.
type EventType int

const (
	Added EventType = iota + 1
	Modified
	Deleted
)

func (t EventType) String() string {
	switch t {
	case Added:
		return "ADDED"
	case Modified:
		return "MODIFIED"
	case Deleted:
		return "DELETED"
	}
	return "UNKNOWN"
}

// Event is one write, as a watcher sees it. Revision order is commit order.
type Event struct {
	Type EventType
	// KV is the value after the write. For Deleted it is the last value the key had,
	// with ModRevision set to the revision of the delete.
	KV KeyValue
	// PrevKV is the value before the write (nil for Added). Watchers with a label or
	// field filter need it to turn a Modified into an Added or Deleted.
	PrevKV *KeyValue
}

// Store is the revision log the API server is built on. All methods are safe for
// concurrent use.
type Store interface {
	// Get returns the current value of key, or ErrNotFound.
	Get(ctx context.Context, key string) (KeyValue, error)
	// List returns every live key under prefix, sorted by key, as of revision (0 = now),
	// and the revision the list is consistent at. A revision older than the compacted one
	// is ErrCompacted; one newer than the current is ErrFuture.
	List(ctx context.Context, prefix string, revision int64) ([]KeyValue, int64, error)
	// Create adds key and returns the new revision, or ErrExists.
	Create(ctx context.Context, key string, value []byte) (int64, error)
	// Update replaces key's value if its current ModRevision is expectedRevision
	// (0 = any), returning the new revision; ErrConflict or ErrNotFound otherwise.
	Update(ctx context.Context, key string, value []byte, expectedRevision int64) (int64, error)
	// Delete removes key if its current ModRevision is expectedRevision (0 = any) and
	// returns the revision of the delete and the value that was deleted.
	Delete(ctx context.Context, key string, expectedRevision int64) (KeyValue, error)
	// Watch streams every event under prefix with a revision greater than revision,
	// in order, without gaps or repeats, until ctx ends. revision 0 means "from now".
	// A revision older than the compacted one is ErrCompacted. The channel is closed when
	// ctx ends, the store closes, or the watcher falls too far behind; the caller then
	// watches again from the last revision it saw.
	Watch(ctx context.Context, prefix string, revision int64) (<-chan Event, error)
	// CurrentRevision is the newest revision written.
	CurrentRevision(ctx context.Context) (int64, error)
	// CompactedRevision is the oldest revision a List or Watch may still ask for.
	CompactedRevision() int64
	Close() error
}
