package face

import (
	"eidkiosk/internal/repotest"

	"testing"
)

// sharedFaces finds <repo root>/../shared/testdata/faces.
func sharedFaces(t testing.TB) string {
	t.Helper()
	return repotest.Faces(t)
}
