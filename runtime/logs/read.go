package logs

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// Options are the pods/log query parameters that shape what Read writes.
type Options struct {
	Follow     bool
	TailLines  int64     // lines from the end; negative means all
	SinceTime  time.Time // entries before it are skipped; zero means all (sinceSeconds is converted by the caller)
	Timestamps bool      // prefix each line with its RFC3339Nano time
	LimitBytes int64     // stop after this many bytes; 0 means no limit

	// Done, when following, is closed once the container instance has exited: Read then
	// writes what is left and returns. A nil Done follows until ctx ends.
	Done <-chan struct{}
	// Poll is how often a follow looks for new lines; default 100ms.
	Poll time.Duration
	// Flush, if set, is called after each line written while following.
	Flush func()
}

// errLimit ends a read when LimitBytes is reached.
var errLimit = errors.New("logs: byte limit reached")

// Read writes the log file at path to w as `kubectl logs` shows it: the content of each line
// of both streams, in order, optionally prefixed with its timestamp.
func Read(ctx context.Context, path string, opts Options, w io.Writer) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("logs: %w", err)
	}
	defer f.Close()
	if opts.TailLines >= 0 {
		off, err := tailOffset(f, opts.TailLines)
		if err != nil {
			return fmt.Errorf("logs: %w", err)
		}
		if _, err := f.Seek(off, io.SeekStart); err != nil {
			return fmt.Errorf("logs: %w", err)
		}
	}
	if opts.Poll <= 0 {
		opts.Poll = 100 * time.Millisecond
	}
	out := &limitWriter{w: w, left: opts.LimitBytes, limited: opts.LimitBytes > 0}
	r := bufio.NewReaderSize(f, 64*1024)
	var pending []byte // an unterminated last line of the file, waiting for its end
	exited := false
	for {
		// Write every complete line up to the end of the file.
		for {
			chunk, err := r.ReadBytes('\n')
			pending = append(pending, chunk...)
			if err == io.EOF {
				break
			}
			if err != nil {
				return fmt.Errorf("logs: %w", err)
			}
			werr := writeEntry(out, bytes.TrimSuffix(pending, []byte{'\n'}), opts)
			pending = pending[:0]
			if werr == errLimit {
				return nil
			}
			if werr != nil {
				return werr
			}
			if opts.Follow && opts.Flush != nil {
				opts.Flush()
			}
		}
		// The writer closes the file before the instance is reported done, so the pass
		// after Done has seen everything.
		if !opts.Follow || exited {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-opts.Done:
			exited = true
		case <-time.After(opts.Poll):
		}
	}
}

func writeEntry(w *limitWriter, line []byte, opts Options) error {
	if len(line) == 0 {
		return nil
	}
	e, err := ParseEntry(line)
	if err != nil {
		return nil // a line we did not write (or a torn write after a crash): skip it
	}
	if !opts.SinceTime.IsZero() && e.Time.Before(opts.SinceTime) {
		return nil
	}
	var b []byte
	if opts.Timestamps {
		b = e.Time.UTC().AppendFormat(b, time.RFC3339Nano)
		b = append(b, ' ')
	}
	b = append(b, e.Content...)
	if !e.Partial {
		b = append(b, '\n')
	}
	return w.write(b)
}

// tailOffset finds where the last n lines of a CRI log begin. A line is a run of P entries
// ended by an F entry. It reads the whole file once, remembering the start of the last n
// lines: logs here are a learner's, not a production node's.
func tailOffset(f *os.File, n int64) (int64, error) {
	if n == 0 {
		return f.Seek(0, io.SeekEnd)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return 0, err
	}
	starts := make([]int64, 0, min(n, 1024)) // ring of line starts
	next := 0
	var off, lineStart int64
	r := bufio.NewReaderSize(f, 64*1024)
	for {
		b, err := r.ReadSlice('\n')
		for err == bufio.ErrBufferFull {
			var more []byte
			more, err = r.ReadSlice('\n')
			b = append(append([]byte(nil), b...), more...)
		}
		if err != nil && err != io.EOF {
			return 0, err
		}
		if len(b) > 0 && b[len(b)-1] == '\n' {
			off += int64(len(b))
			if isFull(b) {
				if int64(len(starts)) < n {
					starts = append(starts, lineStart)
				} else {
					starts[next] = lineStart
					next = (next + 1) % len(starts)
				}
				lineStart = off
			}
		}
		if err == io.EOF {
			break
		}
	}
	if len(starts) == 0 {
		return 0, nil
	}
	if int64(len(starts)) < n {
		return starts[0], nil
	}
	return starts[next], nil
}

func isFull(line []byte) bool {
	e, err := ParseEntry(bytes.TrimSuffix(line, []byte{'\n'}))
	return err == nil && !e.Partial
}

type limitWriter struct {
	w       io.Writer
	limited bool
	left    int64
}

func (l *limitWriter) write(b []byte) error {
	if !l.limited {
		_, err := l.w.Write(b)
		return err
	}
	if int64(len(b)) > l.left {
		b = b[:l.left]
	}
	l.left -= int64(len(b))
	if _, err := l.w.Write(b); err != nil {
		return err
	}
	if l.left == 0 {
		return errLimit
	}
	return nil
}
