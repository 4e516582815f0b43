package pgtest_test

import (
	"os"
	"testing"

	"eidkiosk/internal/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
