// Package pgtest runs the device registry's tests against PostgreSQL (the
// shared store several authority replicas use). The tests are skipped unless
// EIDKIOSK_PG=1 (Debian's postgresql installed: a throw-away cluster is
// started) or EIDKIOSK_PG_URL=postgres://… names a server. It has no code of
// its own: it lives apart so that the registry's SQLite tests do not depend
// on the intake's test helpers.
package pgtest
