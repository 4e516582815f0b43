// Package review is the authority's decision on an enrollment: the status
// every stored enrollment moves through, the officers who decide the flagged
// ones, their audit log, and the review console (a server-rendered web UI on
// its own loopback TLS listener) with the same actions for the command line.
//
// Status model (every transition stored with who, when, reason code, note):
//
//	received ─┬─> verified       all automatic checks passed (actor "intake")
//	          └─> needs_review   any flag ─┬─> approved  (an officer)
//	                                       └─> rejected  (an officer, reason code)
//
// An enrollment is received from the moment intake stores it until intake's
// checks have run (intake calls Checked); the terminal's status query
// returns the status and never the flags. Officer accounts carry an argon2id
// password hash (RFC 9106) and a TOTP secret (RFC 6238); repeated failures
// lock an account, sessions expire when idle and after a fixed lifetime, and
// every officer action (logins, views, an address revealed, decisions,
// account changes, purges) is written to review_audit.
//
// Retention: after a decision and the configured retention period, Purge
// marks the review material (portrait, reference and card photos, liveness
// evidence) as removed from review; the console and the CLI then refuse to
// show it and say so. The sealed package itself is intake's and stays as
// intake stores it.
//
// The package owns the review_ tables in the authority's database (SQLite
// or PostgreSQL, authority.DB). It does not run the checks (intake does),
// issue IDs, or reveal a full ID number: numbers are masked everywhere, and
// the address only on an officer's explicit, audited request.
package review
