// Package localeenv makes the C locale with a codeset (LANG=C.UTF-8, the
// default of Debian containers, systemd units and ssh sessions) readable to
// Fyne, whose lang package parses the locale while it initialises: it takes
// "C.UTF-8" for the language tag "C" and prints "Fyne error: Error parsing
// user locale C" before the command's own output.
//
// Importing the package (blank import, first in main) is enough: its init
// runs before Fyne's. The Go specification (since Go 1.21) initialises
// packages in import-path order among those whose imports are done, and
// this package imports only the standard library, so it is ready no later
// than fyne.io/fyne/v2/lang and sorts before it ("eidkiosk/" < "fyne.io/").
//
// It sets LANGUAGE=en, and only when the effective locale is C or POSIX
// with a codeset or modifier and LANGUAGE is empty: C's messages are
// English, LANG and LC_* stay as they are (the codeset still reaches child
// processes such as espeak-ng), and a LANGUAGE chosen by the user wins.
// It does not choose the kiosk's screen language, which is configuration.
package localeenv

import (
	"os"
	"strings"
)

func init() { Fix() }

// Fix applies the rule above to the process environment and reports
// whether it changed anything.
func Fix() bool {
	if os.Getenv("LANGUAGE") != "" || !isCWithCodeset(effective()) {
		return false
	}
	return os.Setenv("LANGUAGE", "en") == nil
}

// effective returns the locale that decides the messages' language, as
// gettext and Fyne read it: the first non-empty of LC_ALL, LC_MESSAGES,
// LANG.
func effective() string {
	for _, k := range []string{"LC_ALL", "LC_MESSAGES", "LANG"} {
		if v := os.Getenv(k); v != "" {
			return v
		}
	}
	return ""
}

// isCWithCodeset reports "C.UTF-8", "C.utf8", "POSIX@euro" and the like;
// plain "C" and "POSIX" Fyne already understands.
func isCWithCodeset(loc string) bool {
	base, _, _ := strings.Cut(loc, "@")
	base, _, _ = strings.Cut(base, ".")
	return (base == "C" || base == "POSIX") && loc != base
}
