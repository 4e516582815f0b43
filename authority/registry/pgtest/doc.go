// Package pgtest runs the device registry's tests against PostgreSQL (the
// shared store several authority replicas use), on a throw-away cluster of
// eidkiosk/internal/pgtest (or EIDKIOSK_PG_URL's server). Without PostgreSQL
// installed the tests skip, except under CI, where they fail. It has no code
// of its own: it lives apart so that the registry's SQLite tests do not start
// a cluster.
package pgtest
