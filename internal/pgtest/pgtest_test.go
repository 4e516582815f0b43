package pgtest

import (
	"context"
	"database/sql"
	"os"
	"testing"
)

func TestMain(m *testing.M) { os.Exit(Main(m)) }

// TestKillRestart: a committed row survives SIGKILL of the postmaster
// (fsync on), and the cluster comes back through crash recovery.
func TestKillRestart(t *testing.T) {
	ctx := context.Background()
	c, err := Start(ctx)
	if err != nil {
		Unavailable(t, err)
	}
	defer c.Stop()
	u, err := NewDatabase(ctx, c.URL)
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("pgx", u)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`CREATE TABLE t (v TEXT)`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO t VALUES ('kept')`); err != nil {
		t.Fatal(err)
	}
	if cpu, err := c.CPUTime(); err != nil || cpu <= 0 {
		t.Errorf("CPUTime %v %v", cpu, err)
	}
	if err := c.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := db.PingContext(ctx); err == nil {
		t.Fatal("the database answered with its postmaster killed")
	}
	if err := c.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	var v string
	if err := db.QueryRow(`SELECT v FROM t`).Scan(&v); err != nil || v != "kept" {
		t.Fatalf("after the crash: %q %v", v, err)
	}
	dir := c.Dir
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("cluster directory left behind: %v", err)
	}
}

// TestDatabase: the shared cluster hands out distinct, empty databases.
func TestDatabase(t *testing.T) {
	a, b := Database(t), Database(t)
	if a == b {
		t.Fatal("same database twice")
	}
	db, err := sql.Open("pgx", a)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM pg_tables WHERE schemaname = 'public'`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("tables %d %v", n, err)
	}
	if Shared() == nil {
		t.Fatal("no shared cluster after Database")
	}
}
