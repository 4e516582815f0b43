package main

import (
	"errors"
	"fmt"
	"net/mail"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// ErrMaintainer is returned for a maintainer that is not "Name <address>"
// with a real mail domain (lintian's bogus-mail-host): set MAINTAINER.
var ErrMaintainer = errors.New("mkdeb: maintainer must be \"Name <address>\" with a real mail domain (make deb MAINTAINER='City IT <eid@city.example.org>')")

// checkMaintainer refuses placeholders such as eidkiosk@localhost.
func checkMaintainer(m string) error {
	a, err := mail.ParseAddress(m)
	if err != nil || a.Name == "" {
		return fmt.Errorf("%w: %q", ErrMaintainer, m)
	}
	_, host, _ := strings.Cut(a.Address, "@")
	host = strings.ToLower(host)
	if !strings.Contains(host, ".") || host == "localhost.localdomain" || strings.HasSuffix(host, ".localdomain") || strings.HasSuffix(host, ".local") {
		return fmt.Errorf("%w: %q", ErrMaintainer, m)
	}
	return nil
}

// buildTime is the time the packages carry (changelog, manual pages):
// SOURCE_DATE_EPOCH when set (reproducible builds), else the time of the
// checked-out commit, else now.
func buildTime(root string) time.Time {
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return time.Unix(n, 0).UTC()
		}
	}
	cmd := exec.Command("git", "log", "-1", "--format=%ct")
	cmd.Dir = root
	if out, err := cmd.Output(); err == nil {
		if n, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64); err == nil {
			return time.Unix(n, 0).UTC()
		}
	}
	return time.Now().UTC()
}

// changelog returns the Debian changelog (deb-changelog(5)) of the native
// source eidkiosk, which every package ships: one entry for this version,
// dated and signed by the build; the changes are the repository's
// history (git log), which a packaged changelog would only copy.
func changelog(version, maintainer string, when time.Time) []byte {
	return fmt.Appendf(nil, "eidkiosk (%s) unstable; urgency=medium\n\n  * Release %s; the changes are in the repository's history.\n\n -- %s  %s\n",
		version, version, maintainer, when.Format(time.RFC1123Z))
}
