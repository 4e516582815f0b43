package intake_test

import (
	"os"
	"testing"

	"eidkiosk/internal/pgtest"
)

// TestMain stops the PostgreSQL cluster the tests shared, if one started.
func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
