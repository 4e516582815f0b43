// Package pgtest runs throw-away PostgreSQL clusters for tests: initdb and
// pg_ctl of Debian's postgresql package in a temporary directory, listening
// on a Unix socket there only (no TCP port to collide with another test
// binary), run as the "postgres" user when the tests run as root. One
// cluster is shared by a test binary (Database, with Main in TestMain to
// stop it); a test that crashes PostgreSQL on purpose starts its own
// (Start, Kill, Restart).
//
// The cluster keeps fsync and synchronous_commit on: a benchmark or a crash
// test on it measures the durability the authority promises. initdb alone
// runs with --no-sync (the template is rebuilt on every run anyway).
//
// It does not install PostgreSQL (make deps does) and does not manage a
// production server. Without initdb the tests skip, except under CI
// (CI set), where a missing PostgreSQL fails the test instead.
// EIDKIOSK_PG_URL=postgres://… uses an existing server instead of a cluster.
package pgtest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // "pgx" driver
)

// EnvURL names an existing server (postgres://…) on which a throw-away
// database is created for each test instead of starting a cluster.
const EnvURL = "EIDKIOSK_PG_URL"

// ErrNoPostgres: initdb or pg_ctl is not installed (apt-get install postgresql).
var ErrNoPostgres = errors.New("pgtest: PostgreSQL is not installed (initdb/pg_ctl not found; make deps installs postgresql)")

// Cluster is a throw-away PostgreSQL cluster.
type Cluster struct {
	Dir  string // temporary directory: data/, the socket, log
	Data string
	URL  string // postgres:// URL of the "postgres" database over the socket

	initdb, pgctl string
	owner         *user.User // nil when not root
	port          int
}

// BinDirs are searched for initdb and pg_ctl before $PATH.
var BinDirs = []string{"/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/16/bin", "/usr/lib/postgresql/17/bin"}

func pgBin(name string) string {
	for _, dir := range BinDirs {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	return ""
}

// Start creates and starts a cluster in a new temporary directory.
func Start(ctx context.Context) (*Cluster, error) {
	c := &Cluster{initdb: pgBin("initdb"), pgctl: pgBin("pg_ctl"), port: 5432}
	if c.initdb == "" || c.pgctl == "" {
		return nil, ErrNoPostgres
	}
	base := ""
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("pgtest: running as root and there is no postgres user: %w", err)
		}
		c.owner = u
		base = "/tmp" // reachable by the postgres user whatever TMPDIR says
	}
	dir, err := os.MkdirTemp(base, "eidkiosk-pg-")
	if err != nil {
		return nil, fmt.Errorf("pgtest: %w", err)
	}
	c.Dir, c.Data = dir, filepath.Join(dir, "data")
	if c.owner != nil {
		uid, _ := strconv.Atoi(c.owner.Uid)
		gid, _ := strconv.Atoi(c.owner.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("pgtest: %w", err)
		}
	}
	if out, err := c.cmd(ctx, c.initdb, "-D", c.Data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync").CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("pgtest: initdb: %w\n%s", err, out)
	}
	conf := "listen_addresses = ''\n" +
		"unix_socket_directories = '" + dir + "'\n" +
		"port = " + strconv.Itoa(c.port) + "\n" +
		"fsync = on\nsynchronous_commit = on\nfull_page_writes = on\n" +
		"max_connections = 200\nshared_buffers = 64MB\n"
	f, err := os.OpenFile(filepath.Join(c.Data, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err == nil {
		_, err = f.WriteString(conf)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("pgtest: configure: %w", err)
	}
	c.URL = fmt.Sprintf("postgres://postgres@/postgres?host=%s&port=%d&sslmode=disable", url.QueryEscape(dir), c.port)
	if err := c.Restart(ctx); err != nil {
		c.Stop()
		return nil, err
	}
	return c, nil
}

// cmd runs name as the cluster's owner.
func (c *Cluster) cmd(ctx context.Context, name string, args ...string) *exec.Cmd {
	if c.owner == nil {
		return exec.CommandContext(ctx, name, args...)
	}
	return exec.CommandContext(ctx, "runuser", append([]string{"-u", c.owner.Username, "--", name}, args...)...)
}

// Restart starts the postmaster (after Start's first start, after Kill or
// after Stop) and waits until it accepts connections, crash recovery done.
func (c *Cluster) Restart(ctx context.Context) error {
	if out, err := c.cmd(ctx, c.pgctl, "-D", c.Data, "-l", filepath.Join(c.Dir, "log"), "-w", "-t", "120", "start").CombinedOutput(); err != nil {
		log, _ := os.ReadFile(filepath.Join(c.Dir, "log"))
		return fmt.Errorf("pgtest: pg_ctl start: %w\n%s\n%s", err, out, tail(log, 2000))
	}
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for {
		db, err := sql.Open("pgx", c.URL)
		if err == nil {
			err = db.PingContext(ctx)
			db.Close()
		}
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("pgtest: postgres did not come up: %w", err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// PID is the postmaster's process ID (from postmaster.pid), 0 when it is not running.
func (c *Cluster) PID() int {
	b, err := os.ReadFile(filepath.Join(c.Data, "postmaster.pid"))
	if err != nil {
		return 0
	}
	first, _, _ := strings.Cut(string(b), "\n")
	pid, _ := strconv.Atoi(strings.TrimSpace(first))
	return pid
}

// Kill sends SIGKILL to the postmaster, as a crash would, and waits until
// its backends are gone too (they leave when the postmaster dies). Restart
// brings it back through crash recovery.
func (c *Cluster) Kill() error {
	pid := c.PID()
	if pid == 0 {
		return errors.New("pgtest: postmaster not running")
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		return fmt.Errorf("pgtest: kill postmaster: %w", err)
	}
	// The postmaster is not our child: poll until it is gone, then until
	// no backend holds the shared memory (pg_ctl start refuses otherwise
	// only while the old postmaster lives; the backends exit on their own).
	deadline := time.Now().Add(30 * time.Second)
	for syscall.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			return fmt.Errorf("pgtest: postmaster %d survived SIGKILL", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return nil
}

// Stop stops the cluster at once (immediate mode: nothing of it is kept)
// and removes its directory.
func (c *Cluster) Stop() error {
	var err error
	if c.PID() != 0 {
		if out, e := c.cmd(context.Background(), c.pgctl, "-D", c.Data, "-m", "immediate", "-w", "stop").CombinedOutput(); e != nil {
			err = fmt.Errorf("pgtest: pg_ctl stop: %w\n%s", e, out)
		}
	}
	if e := os.RemoveAll(c.Dir); e != nil && err == nil {
		err = fmt.Errorf("pgtest: %w", e)
	}
	return err
}

// NewDatabase creates an empty database on the server at base and returns its URL.
func NewDatabase(ctx context.Context, base string) (string, error) {
	admin, err := sql.Open("pgx", base)
	if err != nil {
		return "", fmt.Errorf("pgtest: %w", err)
	}
	defer admin.Close()
	name := fmt.Sprintf("eidkiosk_test_%d", rand.Uint32())
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		return "", fmt.Errorf("pgtest: create database: %w", err)
	}
	u, err := url.Parse(base)
	if err != nil {
		return "", fmt.Errorf("pgtest: %w", err)
	}
	u.Path = "/" + name
	return u.String(), nil
}

// DropDatabase drops the database named by u, closing its sessions.
func DropDatabase(ctx context.Context, base, u string) error {
	p, err := url.Parse(u)
	if err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	admin, err := sql.Open("pgx", base)
	if err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	defer admin.Close()
	if _, err := admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+strings.TrimPrefix(p.Path, "/")+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("pgtest: drop database: %w", err)
	}
	return nil
}

// The binary's shared cluster, started by the first Database call.
var shared struct {
	sync.Mutex
	c   *Cluster
	err error
}

// Unavailable skips tb, or fails it under CI (CI set): there, PostgreSQL
// must be installed and a missing one is a broken build, not a skip.
func Unavailable(tb testing.TB, err error) {
	tb.Helper()
	if os.Getenv("CI") != "" {
		tb.Fatalf("PostgreSQL test under CI: %v", err)
	}
	tb.Skipf("PostgreSQL test skipped: %v", err)
}

// Database returns the URL of an empty database for tb, dropped when tb
// ends: on EIDKIOSK_PG_URL's server when set, otherwise on the test
// binary's shared cluster (started on first use; Main stops it).
func Database(tb testing.TB) string {
	tb.Helper()
	base := os.Getenv(EnvURL)
	if base == "" {
		shared.Lock()
		if shared.c == nil && shared.err == nil {
			shared.c, shared.err = Start(context.Background())
		}
		c, err := shared.c, shared.err
		shared.Unlock()
		if err != nil {
			Unavailable(tb, err)
		}
		base = c.URL
	}
	u, err := NewDatabase(context.Background(), base)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := DropDatabase(context.Background(), base, u); err != nil {
			tb.Logf("pgtest: %v", err)
		}
	})
	return u
}

// Main runs the tests and stops the shared cluster, if one was started:
// func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }.
func Main(m *testing.M) int {
	code := m.Run()
	shared.Lock()
	defer shared.Unlock()
	if shared.c != nil {
		if err := shared.c.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
		shared.c = nil
	}
	return code
}

// Shared returns the binary's shared cluster, nil when none was started
// (no PostgreSQL test ran yet, or EIDKIOSK_PG_URL names a server).
func Shared() *Cluster {
	shared.Lock()
	defer shared.Unlock()
	return shared.c
}

// CPUTime is the CPU time (user and system) the cluster's processes used
// so far: the postmaster, its live backends and the backends it reaped. A
// benchmark adds it to its own process's so that PostgreSQL's work in
// other processes is counted beside an embedded database's.
func (c *Cluster) CPUTime() (time.Duration, error) {
	pid := c.PID()
	if pid == 0 {
		return 0, errors.New("pgtest: postmaster not running")
	}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return 0, fmt.Errorf("pgtest: %w", err)
	}
	var ticks int64
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		f, err := procStat(p)
		if err != nil || (p != pid && f.ppid != int64(pid)) {
			continue
		}
		ticks += f.utime + f.stime
		if p == pid {
			ticks += f.cutime + f.cstime
		}
	}
	// USER_HZ is 100 on every Linux the project builds for.
	return time.Duration(ticks) * (time.Second / 100), nil
}

type stat struct{ ppid, utime, stime, cutime, cstime int64 }

// procStat reads the fields of /proc/pid/stat that CPUTime needs (see
// proc(5); the command name in parentheses may hold spaces).
func procStat(pid int) (stat, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return stat{}, err
	}
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return stat{}, errors.New("pgtest: malformed stat")
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 15 {
		return stat{}, errors.New("pgtest: short stat")
	}
	// f[0] is field 3 (state): ppid is field 4, utime..cstime 14..17.
	n := func(k int) int64 { v, _ := strconv.ParseInt(f[k-3], 10, 64); return v }
	return stat{ppid: n(4), utime: n(14), stime: n(15), cutime: n(16), cstime: n(17)}, nil
}
