// Package update is the kiosk's update agent: it fetches signed releases
// from a TUF repository (https://theupdateframework.github.io/specification/latest/)
// through github.com/theupdateframework/go-tuf/v2, installs them into the
// inactive slot of an A/B layout under the state directory, switches only
// when no citizen holds the visit lease, starts the new slot on trial and
// commits it when its health checks pass within the health window, or
// restores the previous slot by itself.
//
// # On-disk layout
//
//	<state>/update/
//	  state.json        which slot is committed, which is on trial, attempt counters,
//	                    version floor, trusted-time floor (written temp+fsync+rename)
//	  lock              flock(2) serialising the launcher and the agent
//	  tuf/              TUF metadata cache (root.json rotates here)
//	  download/         <sha256>.partial: resumable downloads, verified before use
//	  slots/a/          one complete release: manifest.json, kiosk (entry binary), assets
//	  slots/b/          the other slot
//	  config/           kiosk.toml received as a signed TUF target, with its version
//
// A slot directory is written as slots/.x-tmp-*, fsynced, then renamed: it is
// either complete or absent. state.json is the only switch: the launcher runs
// Trial when one is set, else Active. Commit moves Trial to Active and raises
// the version floor; a rollback only clears Trial, so the committed slot is
// never touched while another is on probation.
//
// # One version truth
//
// What the terminal runs is what its slots' manifests say (written at
// install from signed metadata), and what it will not go below is the
// version floor; the version compiled into the binary is only reported
// (Status.Binary). One rule (decide) says whether an offer is installed,
// for Cycle and for Inspect (`kioskctl update check`): above the floor and
// the committed release, not failed here, and not the target switched to
// last — that would be an update loop, which the agent stops before any
// download, keeping both slots, and reports in State.Loop, the status, the
// heartbeat and the metrics.
//
// # Stopping
//
// A cancelled context (SIGTERM) ends every phase promptly: a download keeps
// its partial file, an install removes its half-written slot, and after a
// switch the agent does not restart: the launcher starts the trial at the
// next start.
//
// # Trial start
//
// The launcher (Launch, used by `kioskctl update launch` as the systemd
// ExecStart, and by Relaunch when not under systemd) counts Attempts before
// it executes a trial slot; the slot counts Starts once it runs (Agent.Run).
// Attempts-Starts are launches that never reached the agent (power cut on
// first boot, a binary that does not start): retried up to MaxUnstarted.
// Starts without a commit are crashes: after MaxStarts the trial is
// abandoned ("crash-loop"). A trial whose checks fail, or do not pass within
// the health window, is abandoned at once ("unhealthy"). A release's signed
// metadata may exempt some checks for its own trial (TargetMeta.Exempt). The
// launcher logs each decision to stderr (the journal).
//
// # What it does not do
//
// It does not decide what "healthy" means (the kiosk gives it Checks), does
// not hold keys (authority/release and `eidkiosk-authority release` do, on city IT's
// machines), and does not apply remote configuration itself (OnConfig does).
package update
