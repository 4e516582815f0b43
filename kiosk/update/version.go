package update

import (
	"fmt"

	"github.com/Masterminds/semver/v3"
)

// parseVersion parses a release version ("2.1.0", "2.1.0-rc.1").
func parseVersion(s string) (*semver.Version, error) {
	v, err := semver.StrictNewVersion(s)
	if err != nil {
		return nil, fmt.Errorf("update: version %q: %w", s, err)
	}
	return v, nil
}

// compareVersions returns -1, 0 or 1. An unparsable version sorts lowest.
func compareVersions(a, b string) int {
	va, ea := parseVersion(a)
	vb, eb := parseVersion(b)
	switch {
	case ea != nil && eb != nil:
		return 0
	case ea != nil:
		return -1
	case eb != nil:
		return 1
	}
	return va.Compare(vb)
}

// maxVersion returns the higher of two versions ("" counts as lowest).
func maxVersion(a, b string) string {
	if a == "" {
		return b
	}
	if b == "" || compareVersions(a, b) >= 0 {
		return a
	}
	return b
}
