package images

import (
	"archive/tar"
	"bufio"
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	digest "github.com/opencontainers/go-digest"
)

// layerTime is the modification time of every file in a built-in layer: fixed, so that the
// same inputs always give the same layer digest.
var layerTime = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// entry is one path in a layer: a directory, a symlink, a file copied from the host, or a
// file with literal contents.
type entry struct {
	dir     bool
	link    string // symlink target
	src     string // host file to copy (its contents, symlinks followed)
	data    []byte // literal contents
	mode    int64
	srcInfo os.FileInfo
}

// layer collects the files of one image layer. Parent directories are added on demand.
type layer struct {
	entries map[string]*entry
}

func newLayer() *layer { return &layer{entries: map[string]*entry{}} }

func clean(p string) string { return strings.TrimPrefix(path.Clean("/"+p), "/") }

func (l *layer) addDir(p string, mode int64) {
	p = clean(p)
	if p == "" {
		return
	}
	l.addDir(path.Dir(p), 0o755)
	if _, ok := l.entries[p]; !ok {
		l.entries[p] = &entry{dir: true, mode: mode}
	}
}

func (l *layer) addData(p string, data []byte, mode int64) {
	p = clean(p)
	l.addDir(path.Dir(p), 0o755)
	l.entries[p] = &entry{data: data, mode: mode}
}

func (l *layer) addLink(p, target string) {
	p = clean(p)
	l.addDir(path.Dir(p), 0o755)
	l.entries[p] = &entry{link: target, mode: 0o777}
}

// addFile copies host file src to p in the layer, following symlinks: Debian's
// /usr/bin/redis-server is a symlink whose name selects the program's mode.
func (l *layer) addFile(p, src string) error {
	fi, err := os.Stat(src)
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", src)
	}
	p = clean(p)
	l.addDir(path.Dir(p), 0o755)
	l.entries[p] = &entry{src: src, mode: int64(fi.Mode().Perm()), srcInfo: fi}
	return nil
}

// addExecutable copies a host executable and the shared libraries ldd lists for it, at the
// paths the dynamic loader will look for them.
func (l *layer) addExecutable(p, src string) error {
	if err := l.addFile(p, src); err != nil {
		return err
	}
	libs, err := sharedLibraries(src)
	if err != nil {
		return err
	}
	for _, lib := range libs {
		if err := l.addFile(lib, lib); err != nil {
			return fmt.Errorf("library of %s: %w", src, err)
		}
	}
	return nil
}

// addApplets adds a /bin symlink to busybox for every applet `busybox --list` printed.
func (l *layer) addApplets(list string) {
	for _, applet := range strings.Fields(list) {
		if applet == "busybox" || strings.Contains(applet, "/") {
			continue
		}
		l.addLink("/bin/"+applet, "busybox")
	}
}

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }

// addBase adds what most programs expect of a root filesystem.
func (l *layer) addBase() {
	for _, d := range []string{"/proc", "/sys", "/dev", "/root", "/etc", "/usr/bin", "/usr/sbin"} {
		l.addDir(d, 0o755)
	}
	l.addDir("/tmp", 0o1777)
	l.addData("/etc/passwd", []byte("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"), 0o644)
	l.addData("/etc/group", []byte("root:x:0:\nnogroup:x:65534:\n"), 0o644)
	// The kubelet mounts its own /etc/hosts; this one serves `localhost` elsewhere.
	l.addData("/etc/hosts", []byte("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"), 0o644)
}

// sharedLibraries lists the absolute library paths `ldd` prints for bin; none for a static binary.
func sharedLibraries(bin string) ([]string, error) {
	out, err := exec.Command("ldd", bin).CombinedOutput()
	if err != nil {
		if strings.Contains(string(out), "not a dynamic executable") {
			return nil, nil
		}
		return nil, fmt.Errorf("ldd %s: %w: %s", bin, err, strings.TrimSpace(string(out)))
	}
	var libs []string
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		// "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)" or "/lib64/ld-linux-x86-64.so.2 (0x...)"
		f := strings.Fields(sc.Text())
		for i, w := range f {
			if strings.HasPrefix(w, "/") && (i == 0 || f[i-1] == "=>") {
				libs = append(libs, w)
				break
			}
		}
	}
	return libs, nil
}

// fingerprint describes the layer's inputs cheaply (paths, sizes, modification times, and
// literal contents), to recognise an unchanged built-in without reading every file.
func (l *layer) fingerprint(h io.Writer) {
	for _, name := range l.sorted() {
		e := l.entries[name]
		fmt.Fprintf(h, "%s %v %q %o %x", name, e.dir, e.link, e.mode, sha256.Sum256(e.data))
		if e.srcInfo != nil {
			fmt.Fprintf(h, " %s %d %d", e.src, e.srcInfo.Size(), e.srcInfo.ModTime().UnixNano())
		}
		fmt.Fprintln(h)
	}
}

func (l *layer) sorted() []string {
	names := make([]string, 0, len(l.entries))
	for n := range l.entries {
		names = append(names, n)
	}
	// Sorted paths put every directory before its contents.
	sort.Strings(names)
	return names
}

// writeTo writes the layer as an uncompressed tar into a temp file in dir and returns the
// file (positioned at 0), its digest (also its diff ID) and size.
func (l *layer) writeTo(dir string) (*os.File, digest.Digest, int64, error) {
	f, err := os.CreateTemp(dir, "webkube-layer-*.tar")
	if err != nil {
		return nil, "", 0, err
	}
	os.Remove(f.Name()) // unlinked: gone when closed
	dg := digest.SHA256.Digester()
	w := bufio.NewWriterSize(io.MultiWriter(f, dg.Hash()), 1<<20)
	tw := tar.NewWriter(w)
	if err := l.writeTar(tw); err != nil {
		f.Close()
		return nil, "", 0, err
	}
	if err := tw.Close(); err != nil {
		f.Close()
		return nil, "", 0, err
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return nil, "", 0, err
	}
	size, err := f.Seek(0, io.SeekCurrent)
	if err != nil {
		f.Close()
		return nil, "", 0, err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		f.Close()
		return nil, "", 0, err
	}
	return f, dg.Digest(), size, nil
}

func (l *layer) writeTar(tw *tar.Writer) error {
	for _, name := range l.sorted() {
		e := l.entries[name]
		hdr := &tar.Header{Name: name, Mode: e.mode, ModTime: layerTime, Format: tar.FormatPAX}
		switch {
		case e.dir:
			hdr.Typeflag, hdr.Name = tar.TypeDir, name+"/"
		case e.link != "":
			hdr.Typeflag, hdr.Linkname = tar.TypeSymlink, e.link
		case e.src != "":
			hdr.Typeflag, hdr.Size = tar.TypeReg, e.srcInfo.Size()
		default:
			hdr.Typeflag, hdr.Size = tar.TypeReg, int64(len(e.data))
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		switch {
		case e.src != "":
			if err := copyFile(tw, e.src, e.srcInfo.Size()); err != nil {
				return err
			}
		case !e.dir && e.link == "":
			if _, err := tw.Write(e.data); err != nil {
				return err
			}
		}
	}
	return nil
}

func copyFile(w io.Writer, src string, size int64) error {
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	n, err := io.Copy(w, io.LimitReader(f, size))
	if err != nil {
		return fmt.Errorf("copy %s: %w", src, err)
	}
	if n != size {
		return fmt.Errorf("copy %s: file changed while building the image", filepath.Base(src))
	}
	return nil
}
