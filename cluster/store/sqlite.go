package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	_ "github.com/mattn/go-sqlite3" // registers the "sqlite3" driver
	"k8s.io/utils/clock"
)

// Config configures a SQLite store. Only Path is required.
type Config struct {
	// Path is the SQLite database file; it is created if missing.
	Path   string
	Logger *slog.Logger
	Clock  clock.WithTicker
	// CompactInterval is how often old history is dropped (Kubernetes asks etcd every
	// 5 minutes). The last compaction's time is kept in the database, so restarts do not
	// postpone it. Negative disables the background compactor; Compact still works.
	CompactInterval time.Duration
	// KeepRevisions is how many of the newest revisions at most stay readable by List and
	// Watch (default 10000).
	KeepRevisions int64
	// MaxHistoryAge drops revisions older than this too (default 10 minutes: etcd under
	// kube-apiserver keeps 5 to 10), measured at each compaction, but never the newest
	// MinRevisions (default 1000). Negative: bound by KeepRevisions only.
	MaxHistoryAge time.Duration
	MinRevisions  int64
	// CompactBatch is how many revisions one compaction transaction covers, so the
	// writer is never held for long.
	CompactBatch int64
	// WatchBuffer is how many events a watcher may fall behind before its channel is
	// closed; writers never wait for watchers.
	WatchBuffer int
	// MaxBatch is how many queued writes one transaction commits at most (group commit).
	MaxBatch int
}

func (c *Config) setDefaults() {
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Clock == nil {
		c.Clock = clock.RealClock{}
	}
	if c.CompactInterval == 0 {
		c.CompactInterval = 5 * time.Minute
	}
	if c.KeepRevisions <= 0 {
		c.KeepRevisions = 10000
	}
	if c.MaxHistoryAge == 0 {
		c.MaxHistoryAge = 10 * time.Minute
	}
	if c.MinRevisions <= 0 {
		c.MinRevisions = 1000
	}
	if c.CompactBatch <= 0 {
		c.CompactBatch = 1000
	}
	if c.WatchBuffer <= 0 {
		c.WatchBuffer = 1000
	}
	if c.MaxBatch <= 0 {
		c.MaxBatch = 256
	}
}

// SQLite is the Store on one SQLite file. One goroutine does every write (see write.go);
// reads run concurrently on a pool of read connections, each List in one snapshot.
type SQLite struct {
	cfg  Config
	log  *slog.Logger
	path string

	lock         *os.File // flock held while open: one process owns the revision log
	writeDB      *sql.DB  // exactly one connection: writes are serialized here
	readDB       *sql.DB
	checkpointDB *sql.DB
	latestStmt   *sql.Stmt // prepared on writeDB, see write.go
	insertStmt   *sql.Stmt
	checkpoint   chan struct{} // writer → checkpointer: the WAL has grown, copy it back
	catchUp      chan struct{} // checkpointer → writer: bulk copied, finish between batches
	caughtUp     chan struct{} // writer → checkpointer: finished
	walRows      int64         // rows written since the last checkpoint request (writer only)

	rev         atomic.Int64 // newest committed revision
	compacted   atomic.Int64 // CompactedRevision
	lastCompact time.Time    // when compaction last ran, as read at open; compactor only

	ops        chan *op
	quit       chan struct{} // closed by Close
	writerDone chan struct{} // closed when the writer goroutine has exited
	bus        *bus
	wg         sync.WaitGroup
	closeOnce  sync.Once
	// afterCommit, if set, sees each committed batch just before it is published
	// (benchmarks time watch delay from here).
	afterCommit func([]Event)
	compactMu   sync.Mutex
}

var _ Store = (*SQLite)(nil)

// New opens (or creates) the database at cfg.Path, applies pending migrations, and
// starts the writer and the compactor. Close stops them.
func New(ctx context.Context, cfg Config) (*SQLite, error) {
	cfg.setDefaults()
	if cfg.Path == "" {
		return nil, errors.New("store: Config.Path is empty")
	}
	if strings.ContainsAny(cfg.Path, "?#") {
		return nil, fmt.Errorf("store: database path %q must not contain '?' or '#'", cfg.Path)
	}
	lock, err := lockFile(cfg.Path + ".lock")
	if err != nil {
		return nil, err
	}
	if err := ownerOnly(cfg.Path); err != nil {
		lock.Close()
		return nil, err
	}
	s := &SQLite{
		cfg:        cfg,
		log:        cfg.Logger.With("component", "store"),
		path:       cfg.Path,
		lock:       lock,
		ops:        make(chan *op, 4*cfg.MaxBatch),
		quit:       make(chan struct{}),
		writerDone: make(chan struct{}),
		checkpoint: make(chan struct{}, 1),
		catchUp:    make(chan struct{}, 1),
		caughtUp:   make(chan struct{}, 1),
	}
	if err := s.open(ctx); err != nil {
		s.closeDBs()
		return nil, err
	}
	s.bus = newBus(s.rev.Load())
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer close(s.writerDone)
		s.writer()
	}()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.checkpointer()
	}()
	if cfg.CompactInterval > 0 {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.compactLoop()
		}()
	}
	s.log.Info("store opened", "path", cfg.Path, "revision", s.rev.Load(), "compacted", s.compacted.Load())
	return s, nil
}

// Durability: WAL with synchronous=NORMAL. A COMMIT has written the transaction to the
// WAL file before it returns, so it is in the kernel's page cache and survives the
// process being killed (kill -9, panic, OOM); only a power cut or kernel crash may lose
// the last commits before the next checkpoint's fsync. That is the trade etcd's users
// would not take but a learner's laptop cluster can, and it saves an fsync per commit.
const pragmas = "_busy_timeout=5000&_foreign_keys=1&_synchronous=NORMAL"

func (s *SQLite) open(ctx context.Context) error {
	var err error
	// _txlock=immediate: the writer takes SQLite's write lock at BEGIN, so a check made
	// inside the transaction still holds at COMMIT.
	s.writeDB, err = sql.Open("sqlite3", s.path+"?_journal_mode=WAL&_txlock=immediate&"+pragmas)
	if err != nil {
		return fmt.Errorf("store: open %s: %w", s.path, err)
	}
	s.writeDB.SetMaxOpenConns(1)
	s.writeDB.SetMaxIdleConns(1)
	s.writeDB.SetConnMaxIdleTime(0)
	s.writeDB.SetConnMaxLifetime(0)
	if err := s.writeDB.PingContext(ctx); err != nil {
		return fmt.Errorf("store: open %s: %w", s.path, err)
	}
	if err := s.enableIncrementalVacuum(ctx); err != nil {
		return err
	}
	if err := migrate(ctx, s.writeDB, s.path, s.cfg.Clock, s.log); err != nil {
		return err
	}
	// Checkpoints are ours (see checkpoint.go), not inside whichever COMMIT crosses
	// SQLite's threshold of 1000 pages. SQLite's stays as a backstop at 10000 pages
	// (40 MB), for when ours fall behind on a very busy machine. journal_size_limit
	// trims the WAL file after it is rewound.
	if _, err := s.writeDB.ExecContext(ctx, `PRAGMA wal_autocheckpoint = 10000; PRAGMA journal_size_limit = 16777216`); err != nil {
		return fmt.Errorf("store: configure %s: %w", s.path, err)
	}
	if s.latestStmt, err = s.writeDB.PrepareContext(ctx, latestSQL); err != nil {
		return fmt.Errorf("store: prepare: %w", err)
	}
	if s.insertStmt, err = s.writeDB.PrepareContext(ctx, insertSQL); err != nil {
		return fmt.Errorf("store: prepare: %w", err)
	}
	s.checkpointDB, err = sql.Open("sqlite3", s.path+"?"+pragmas)
	if err != nil {
		return fmt.Errorf("store: open %s: %w", s.path, err)
	}
	s.checkpointDB.SetMaxOpenConns(1)
	s.readDB, err = sql.Open("sqlite3", s.path+"?_query_only=1&"+pragmas)
	if err != nil {
		return fmt.Errorf("store: open %s: %w", s.path, err)
	}
	// Each connection keeps its own page cache (up to 2 MB); an idle webkube keeps two.
	s.readDB.SetMaxOpenConns(8)
	s.readDB.SetMaxIdleConns(2)
	s.readDB.SetConnMaxIdleTime(time.Minute)

	var rev, compacted, compactMs int64
	err = s.writeDB.QueryRowContext(ctx, `SELECT `+currentRevisionSQL+`,
		(SELECT value FROM meta WHERE key = 'compact_revision'),
		(SELECT value FROM meta WHERE key = 'compact_time')`).Scan(&rev, &compacted, &compactMs)
	if err != nil {
		return fmt.Errorf("store: read revisions from %s: %w", s.path, err)
	}
	s.rev.Store(rev)
	s.compacted.Store(compacted)
	if compactMs > 0 {
		s.lastCompact = time.UnixMilli(compactMs)
	}
	return nil
}

// CurrentRevision is the newest committed revision.
func (s *SQLite) CurrentRevision(ctx context.Context) (int64, error) {
	if s.isClosed() {
		return 0, ErrClosed
	}
	return s.rev.Load(), nil
}

// CompactedRevision is the oldest revision a List or Watch may still ask for.
func (s *SQLite) CompactedRevision() int64 { return s.compacted.Load() }

// Close stops the writer, the compactor and every watch, then closes the database.
func (s *SQLite) Close() error {
	var err error
	s.closeOnce.Do(func() {
		close(s.quit)
		s.wg.Wait()
		s.bus.close()
		err = s.closeDBs()
	})
	return err
}

func (s *SQLite) isClosed() bool {
	select {
	case <-s.quit:
		return true
	default:
		return false
	}
}

func (s *SQLite) closeDBs() error {
	var errs []error
	if s.readDB != nil {
		errs = append(errs, s.readDB.Close())
	}
	for _, st := range []*sql.Stmt{s.latestStmt, s.insertStmt} {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	if s.checkpointDB != nil {
		errs = append(errs, s.checkpointDB.Close())
	}
	if s.writeDB != nil {
		// The last connection to close checkpoints and removes the WAL.
		errs = append(errs, s.writeDB.Close())
	}
	if s.lock != nil {
		errs = append(errs, s.lock.Close()) // closing the file drops the flock
	}
	return errors.Join(errs...)
}

// ownerOnly creates the database file, if missing, readable by its owner alone, and
// tightens files an older webkube left readable by all: the store holds every Secret.
// SQLite creates the WAL and SHM files with the database file's mode.
func ownerOnly(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	f.Close()
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if err := os.Chmod(p, 0o600); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("store: %w", err)
		}
	}
	return nil
}

// lockFile takes an exclusive flock next to the database. The revision counter and the
// watchers live in this process's memory, so a second webkube writing the same file
// would hand out revisions behind our back and its writes would never reach our
// watchers. The kernel drops the lock when the process dies, even by kill -9.
func lockFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("store: %s is locked: another webkube is using this data directory", path)
		}
		return nil, fmt.Errorf("store: lock %s: %w", path, err)
	}
	return f, nil
}
