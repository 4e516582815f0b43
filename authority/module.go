// Package authority is the reference central authority: the server that
// eidkiosk terminals enrol into and upload sealed enrollments to. It is a
// library whose parts are modules (intake, device registry and PKI, fleet and
// update repository) mounted on one HTTPS server; cmd/authority only wires
// them. Tests run it under httptest on loopback.
//
// It is a reference for development, tests and pilots, not a production
// identity system: the Ministry's own checks plug in through hooks; its
// face check (intake.FaceCheck on facematch's models) is calibrated on ten
// identities only (docs/matching.md).
package authority

import (
	"context"
	"net/http"
)

// Module is one part of the authority. Each module owns its tables (named
// with its own prefix) and its URL paths.
type Module interface {
	// Name is a short lower-case name used in logs and errors.
	Name() string
	// Migrate creates or upgrades the module's tables; it must be idempotent.
	Migrate(ctx context.Context, db *DB) error
	// Routes registers the module's handlers.
	Routes(mux *http.ServeMux)
}
