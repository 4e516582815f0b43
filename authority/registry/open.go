package registry

import (
	"context"
	"fmt"

	"eidkiosk/authority"
	"eidkiosk/authority/pki"
)

// OpenDir opens the registry of the authority whose state is in dataDir (its
// --data directory; dsn, when not empty, is a postgres:// URL used instead of
// the SQLite file), loads the PKI keeping its server names, and migrates the
// registry's tables. It is for operator commands (`authority token`,
// `authority device`); close the returned DB when done.
func OpenDir(ctx context.Context, dataDir, dsn string, opts Options) (*Registry, *authority.DB, error) {
	if dataDir == "" {
		return nil, nil, fmt.Errorf("registry: no --data directory given")
	}
	if dsn == "" {
		dsn = dataDir
	}
	db, err := authority.OpenDB(ctx, dsn)
	if err != nil {
		return nil, nil, err
	}
	p, err := pki.Load(dataDir, nil)
	if err != nil {
		db.Close()
		return nil, nil, err
	}
	r := New(db, p, opts)
	if err := r.Migrate(ctx, db); err != nil {
		db.Close()
		return nil, nil, err
	}
	return r, db, nil
}

// PKI is the registry's certificate authority (nil for New(db, nil, …)).
func (r *Registry) PKI() *pki.PKI { return r.pki }
