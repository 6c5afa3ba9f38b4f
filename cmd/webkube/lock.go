package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// lockFile in the data dir is held (flock) by the webkube running on it, so a second
// webkube or a `webkube reset` can tell. The kernel drops the lock when the process
// ends, however it ends; the pid inside is only for the message.
const lockFile = "webkube.lock"

// errDataDirBusy says another webkube holds the data dir.
var errDataDirBusy = errors.New("data dir in use")

// lockDataDir takes the data dir's lock for this process and writes its pid; release
// gives it back. Held by another process: an error naming its pid.
func lockDataDir(dir string) (release func(), err error) {
	path := filepath.Join(dir, lockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		b, _ := os.ReadFile(path)
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			pid := strings.TrimSpace(string(b))
			if _, perr := strconv.Atoi(pid); perr != nil {
				pid = "unknown"
			}
			return nil, fmt.Errorf("%w: webkube (pid %s) is running on %s; stop it first", errDataDirBusy, pid, dir)
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return func() { f.Close() }, nil
}
