// Package logs keeps container output the way Kubernetes' container runtimes do: one file per
// container instance in the CRI log format
//
//	2026-11-25T03:04:05.123456789Z stdout F hello
//
// (P instead of F marks a piece of a line longer than MaxLineBytes), under
// <dir>/<namespace>_<pod>_<uid>/<container>/<restartCount>.log. The previous instance's file
// is kept for `kubectl logs --previous`. Read gives the pods/log semantics on top.
package logs

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// MaxLineBytes is where a line without a newline is cut into a partial (P) entry, as the
// CRI runtimes do.
const MaxLineBytes = 16 * 1024

// Path is the log file of one container instance.
func Path(dir, namespace, pod, podUID, container string, restartCount int) string {
	return filepath.Join(ContainerDir(dir, namespace, pod, podUID, container), strconv.Itoa(restartCount)+".log")
}

// ContainerDir holds the log files of all instances of one container of a pod.
func ContainerDir(dir, namespace, pod, podUID, container string) string {
	return filepath.Join(dir, namespace+"_"+pod+"_"+podUID, container)
}

// PodDir holds the log files of all containers of a pod.
func PodDir(dir, namespace, pod, podUID string) string {
	return filepath.Join(dir, namespace+"_"+pod+"_"+podUID)
}

// Prune removes the files of instances older than the one before restartCount, so exactly
// the current and the previous instance are kept.
func Prune(containerDir string, restartCount int) error {
	entries, err := os.ReadDir(containerDir)
	if err != nil {
		if os.IsNotExist(err) {
			return nil
		}
		return err
	}
	for _, e := range entries {
		n, err := strconv.Atoi(strings.TrimSuffix(e.Name(), ".log"))
		if err != nil || !strings.HasSuffix(e.Name(), ".log") {
			continue
		}
		if n < restartCount-1 {
			if err := os.Remove(filepath.Join(containerDir, e.Name())); err != nil {
				return err
			}
		}
	}
	return nil
}

// File is the log of one container instance being written. Its Stdout and Stderr writers
// may be used from different goroutines.
type File struct {
	mu     sync.Mutex
	f      *os.File
	now    func() time.Time
	out    *stream
	err    *stream
	closed bool
}

// Create opens (appending, so a reattached instance continues its file) the log file at
// path. now stamps each line; nil means time.Now.
func Create(path string, now func() time.Time) (*File, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("logs: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return nil, fmt.Errorf("logs: %w", err)
	}
	if now == nil {
		now = time.Now
	}
	lf := &File{f: f, now: now}
	lf.out = &stream{file: lf, name: "stdout"}
	lf.err = &stream{file: lf, name: "stderr"}
	return lf, nil
}

// Stdout is the writer for the container's standard output.
func (f *File) Stdout() io.Writer { return f.out }

// Stderr is the writer for the container's standard error.
func (f *File) Stderr() io.Writer { return f.err }

// Close writes out any unterminated last line of either stream and closes the file.
func (f *File) Close() error {
	f.out.flush()
	f.err.flush()
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return nil
	}
	f.closed = true
	return f.f.Close()
}

func (f *File) entry(streamName, tag string, line []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return os.ErrClosed
	}
	b := make([]byte, 0, len(line)+64)
	b = f.now().UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, ' ')
	b = append(b, streamName...)
	b = append(b, ' ')
	b = append(b, tag...)
	b = append(b, ' ')
	b = append(b, line...)
	b = append(b, '\n')
	_, err := f.f.Write(b)
	return err
}

// stream splits one output stream into lines.
type stream struct {
	file *File
	name string
	mu   sync.Mutex
	buf  []byte
}

func (s *stream) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.buf = append(s.buf, p...)
	for {
		i := bytes.IndexByte(s.buf, '\n')
		if i < 0 {
			break
		}
		line := s.buf[:i]
		for len(line) > MaxLineBytes {
			if err := s.emit("P", line[:MaxLineBytes]); err != nil {
				return 0, err
			}
			line = line[MaxLineBytes:]
		}
		if err := s.emit("F", line); err != nil {
			return 0, err
		}
		s.buf = s.buf[i+1:]
	}
	for len(s.buf) > MaxLineBytes {
		if err := s.emit("P", s.buf[:MaxLineBytes]); err != nil {
			return 0, err
		}
		s.buf = s.buf[MaxLineBytes:]
	}
	// Don't let the backing array grow forever with short writes.
	if len(s.buf) == 0 {
		s.buf = s.buf[:0:0]
	}
	return len(p), nil
}

func (s *stream) emit(tag string, line []byte) error {
	return s.file.entry(s.name, tag, line)
}

func (s *stream) flush() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.buf) > 0 {
		_ = s.emit("F", s.buf)
		s.buf = nil
	}
}

// Entry is one parsed line of a log file.
type Entry struct {
	Time    time.Time
	Stream  string // "stdout" or "stderr"
	Partial bool   // P: the line continues in the next entry
	Content []byte // without the newline
}

// ParseEntry parses one line of a CRI log file (without its newline).
func ParseEntry(line []byte) (Entry, error) {
	var e Entry
	ts, rest, ok := bytes.Cut(line, []byte{' '})
	if !ok {
		return e, fmt.Errorf("logs: malformed line %q", line)
	}
	t, err := time.Parse(time.RFC3339Nano, string(ts))
	if err != nil {
		return e, fmt.Errorf("logs: bad timestamp: %w", err)
	}
	st, rest, ok := bytes.Cut(rest, []byte{' '})
	if !ok {
		return e, fmt.Errorf("logs: malformed line %q", line)
	}
	tag, content, ok := bytes.Cut(rest, []byte{' '})
	if !ok {
		// "ts stdout F" with an empty line and no trailing space.
		tag, content = rest, nil
	}
	e.Time, e.Stream, e.Partial, e.Content = t, string(st), string(tag) == "P", content
	return e, nil
}

// Instances lists the restart counts that have a log file in containerDir, ascending.
func Instances(containerDir string) ([]int, error) {
	entries, err := os.ReadDir(containerDir)
	if err != nil {
		return nil, err
	}
	var out []int
	for _, e := range entries {
		if n, err := strconv.Atoi(strings.TrimSuffix(e.Name(), ".log")); err == nil && strings.HasSuffix(e.Name(), ".log") {
			out = append(out, n)
		}
	}
	sort.Ints(out)
	return out, nil
}
