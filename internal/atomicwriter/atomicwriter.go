// Package atomicwriter writes a volume's files as the kubelet's AtomicWriter does, so a
// container sees a ConfigMap, Secret or downwardAPI volume change all at once: the files
// live in a timestamped directory (..2026_01_02_15_04_05.123), the ..data symlink points
// at it and is swapped by a rename, and each top-level name is a symlink through ..data.
// The volume directory itself never changes, so a bind mount of it follows every update.
package atomicwriter

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

const (
	dataDir = "..data"
	tmpLink = "..data_tmp"
)

// File is one file of a volume.
type File struct {
	Path string // relative to the volume
	Data []byte
	Mode int32 // permission bits, as the API's mode fields
}

// Write makes dir hold exactly files. It reports whether anything changed: an unchanged
// payload is not written again (a container's open files and mtimes are kept).
func Write(dir string, files []File, now time.Time) (changed bool, err error) {
	payload := map[string]File{}
	for _, f := range files {
		if err := validPath(f.Path); err != nil {
			return false, err
		}
		payload[filepath.Clean(f.Path)] = f
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return false, err
	}
	old, _ := os.Readlink(filepath.Join(dir, dataDir))
	if old != "" && same(filepath.Join(dir, old), payload) && linked(dir, payload) {
		return false, nil
	}
	ts, err := os.MkdirTemp(dir, now.UTC().Format("..2006_01_02_15_04_05."))
	if err != nil {
		return false, err
	}
	if err := writeAll(ts, payload); err != nil {
		os.RemoveAll(ts)
		return false, err
	}
	tmp := filepath.Join(dir, tmpLink)
	os.Remove(tmp)
	if err := os.Symlink(filepath.Base(ts), tmp); err != nil {
		os.RemoveAll(ts)
		return false, err
	}
	if err := os.Rename(tmp, filepath.Join(dir, dataDir)); err != nil {
		os.RemoveAll(ts)
		return false, err
	}
	oldTop := topNames(dir, old)
	newTop := map[string]bool{}
	for p := range payload {
		newTop[strings.Split(p, string(filepath.Separator))[0]] = true
	}
	if err := linkTop(dir, newTop); err != nil {
		return true, err
	}
	for name := range oldTop {
		if !newTop[name] {
			if err := os.RemoveAll(filepath.Join(dir, name)); err != nil {
				return true, err
			}
		}
	}
	if old != "" && old != filepath.Base(ts) {
		return true, os.RemoveAll(filepath.Join(dir, old))
	}
	return true, nil
}

// validPath refuses what could leave the volume or hide among the writer's own names, as
// the kubelet's validatePath.
func validPath(p string) error {
	if p == "" || filepath.IsAbs(p) {
		return fmt.Errorf("bad file path %q", p)
	}
	for _, part := range strings.Split(p, "/") {
		if part == ".." || strings.HasPrefix(part, "..") {
			return fmt.Errorf("bad file path %q: no element may start with '..'", p)
		}
	}
	return nil
}

func writeAll(ts string, payload map[string]File) error {
	// MkdirTemp makes 0700; every container user must be able to read the files.
	if err := os.Chmod(ts, 0o755); err != nil {
		return err
	}
	for p, f := range payload {
		full := filepath.Join(ts, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(full, f.Data, fs.FileMode(f.Mode)); err != nil {
			return err
		}
		if err := os.Chmod(full, fs.FileMode(f.Mode)); err != nil {
			return err
		}
	}
	return nil
}

// same says whether the directory ts holds exactly the payload, data and modes.
func same(ts string, payload map[string]File) bool {
	n := 0
	err := filepath.WalkDir(ts, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(ts, p)
		f, ok := payload[rel]
		info, ierr := d.Info()
		if !ok || ierr != nil || info.Mode().Perm() != fs.FileMode(f.Mode).Perm() {
			return errors.New("differs")
		}
		b, rerr := os.ReadFile(p)
		if rerr != nil || !bytes.Equal(b, f.Data) {
			return errors.New("differs")
		}
		n++
		return nil
	})
	return err == nil && n == len(payload)
}

// linked says whether every top-level name is already a symlink through ..data.
func linked(dir string, payload map[string]File) bool {
	for p := range payload {
		top := strings.Split(p, string(filepath.Separator))[0]
		if target, err := os.Readlink(filepath.Join(dir, top)); err != nil || target != filepath.Join(dataDir, top) {
			return false
		}
	}
	return true
}

// topNames are the top-level names of the payload in the timestamped directory ts.
func topNames(dir, ts string) map[string]bool {
	names := map[string]bool{}
	if ts == "" {
		return names
	}
	entries, _ := os.ReadDir(filepath.Join(dir, ts))
	for _, e := range entries {
		names[e.Name()] = true
	}
	return names
}

// linkTop makes each top-level name a symlink through ..data; a plain file or directory
// there (a volume written before this layout) is replaced.
func linkTop(dir string, names map[string]bool) error {
	for name := range names {
		p := filepath.Join(dir, name)
		want := filepath.Join(dataDir, name)
		if target, err := os.Readlink(p); err == nil && target == want {
			continue
		}
		if err := os.RemoveAll(p); err != nil {
			return err
		}
		if err := os.Symlink(want, p); err != nil {
			return err
		}
	}
	return nil
}
