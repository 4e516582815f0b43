package authority

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // "pgx" driver
	_ "modernc.org/sqlite"             // "sqlite" driver
)

// Dialect is the SQL engine behind a DB.
type Dialect string

const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// DB is the authority's database: an embedded SQLite file by default, or a
// shared PostgreSQL database so that several stateless intake replicas can
// serve one province. Modules write their queries with '?' placeholders and
// run them through Rebind.
type DB struct {
	*sql.DB
	Dialect Dialect
}

// PostgresPool bounds one authority process's PostgreSQL sessions (all
// kept open when idle). Several replicas share the server's
// max_connections (100 by default).
const PostgresPool = 16

// SQLiteFile is the database file inside a --data directory.
const SQLiteFile = "authority.db"

// OpenDB opens the store named by dsn: a postgres:// or postgresql:// URL, or
// a directory that holds (or will hold) the SQLite file.
func OpenDB(ctx context.Context, dsn string) (*DB, error) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		db, err := sql.Open("pgx", dsn)
		if err != nil {
			return nil, fmt.Errorf("authority: open postgres: %w", err)
		}
		// database/sql keeps 2 idle connections by default: with more
		// requests in flight each extra query opened a new session (a
		// forked backend, authentication, statements prepared again) and
		// closed it, which cost more than the query. Keep the pool warm.
		db.SetMaxOpenConns(PostgresPool)
		db.SetMaxIdleConns(PostgresPool)
		db.SetConnMaxIdleTime(5 * time.Minute)
		if err := db.PingContext(ctx); err != nil {
			db.Close()
			return nil, fmt.Errorf("authority: connect postgres: %w", err)
		}
		return &DB{DB: db, Dialect: Postgres}, nil
	}
	if err := os.MkdirAll(dsn, 0o700); err != nil {
		return nil, fmt.Errorf("authority: data directory: %w", err)
	}
	path := filepath.Join(dsn, SQLiteFile)
	// WAL with synchronous=FULL: a committed intake survives a power cut.
	q := "?_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=busy_timeout(10000)&_pragma=foreign_keys(ON)&_txlock=immediate"
	db, err := sql.Open("sqlite", "file:"+path+q)
	if err != nil {
		return nil, fmt.Errorf("authority: open sqlite: %w", err)
	}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("authority: open %s: %w", path, err)
	}
	// The store holds sealed packages and keyed hashes only, but it is the
	// authority's: readable by its user alone (WAL and SHM files follow).
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if err := os.Chmod(p, 0o600); err != nil && !os.IsNotExist(err) {
			db.Close()
			return nil, fmt.Errorf("authority: %w", err)
		}
	}
	return &DB{DB: db, Dialect: SQLite}, nil
}

// Rebind turns '?' placeholders into the dialect's own ($1, $2, ... for
// PostgreSQL). It does not look inside string literals: keep '?' out of them.
func (db *DB) Rebind(query string) string {
	if db.Dialect != Postgres {
		return query
	}
	var b strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}
