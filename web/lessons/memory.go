package lessons

import (
	"context"
	"sync"
	"time"
)

// Memory keeps progress in memory (a dashboard without a database, and tests).
type Memory struct {
	mu sync.Mutex
	m  map[string]map[string]time.Time
}

// NewMemory returns empty progress.
func NewMemory() *Memory { return &Memory{m: map[string]map[string]time.Time{}} }

// Done lists the lesson's passed steps.
func (m *Memory) Done(_ context.Context, lesson string) (map[string]time.Time, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string]time.Time{}
	for k, v := range m.m[lesson] {
		out[k] = v
	}
	return out, nil
}

// MarkDone records a passed step once.
func (m *Memory) MarkDone(_ context.Context, lesson, step string, at time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.m[lesson] == nil {
		m.m[lesson] = map[string]time.Time{}
	}
	if _, ok := m.m[lesson][step]; !ok {
		m.m[lesson][step] = at
	}
	return nil
}

// Reset forgets the lesson.
func (m *Memory) Reset(_ context.Context, lesson string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.m, lesson)
	return nil
}
