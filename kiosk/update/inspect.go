package update

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
)

// Offer is what a repository offers a terminal, as found by Inspect.
type Offer struct {
	Release   string // highest release offered to this terminal ("" if none)
	Target    string
	Bytes     int64
	Install   bool   // the agent would install it (the agent's own rule)
	Reason    string // why not, when Install is false
	Config    int64  // newest configuration offered above the applied one (0 if none)
	Cohort    int
	Targets   int   // targets in the repository
	Transfers int64 // bytes fetched to find out
}

// Inspect verifies the repository's metadata as the agent would and says
// what it offers this terminal, without downloading a target or changing
// anything: it works on a copy of the metadata cache.
func Inspect(ctx context.Context, o Options) (Offer, error) {
	a, err := New(o)
	if err != nil {
		return Offer{}, err
	}
	st, err := a.l.load()
	if err != nil {
		return Offer{}, err
	}
	tmp, err := os.MkdirTemp("", "eidkiosk-inspect-")
	if err != nil {
		return Offer{}, fmt.Errorf("update: %w", err)
	}
	defer os.RemoveAll(tmp)
	scratch := Layout{Root: tmp}
	if err := scratch.ensure(); err != nil {
		return Offer{}, err
	}
	ents, _ := os.ReadDir(a.l.TUFDir())
	for _, e := range ents {
		if b, err := os.ReadFile(filepath.Join(a.l.TUFDir(), e.Name())); err == nil && !e.IsDir() {
			os.WriteFile(filepath.Join(scratch.TUFDir(), e.Name()), b, 0o600)
		}
	}
	src, err := newSource(ctx, o.RepoURL, o.Client)
	if err != nil {
		return Offer{}, err
	}
	tr, err := refresh(scratch, o.TrustedRoot, src, a.now())
	if err != nil {
		return Offer{}, err
	}
	off := Offer{Cohort: a.cohort, Targets: len(tr.targets), Transfers: src.bytes.Load()}
	if c, ok := chooseConfig(tr.targets, a.o.Channel, a.o.Station, a.cohort, st.ConfigVersion); ok {
		off.Config = c.Meta.ConfigVersion
	}
	c, ok := chooseRelease(tr.targets, a.o.Channel, a.cohort, a.l.committedVersion(st))
	if !ok {
		off.Reason = "no release on channel " + a.o.Channel + " for this cohort"
		return off, nil
	}
	off.Release, off.Target, off.Bytes = c.Meta.Version, c.Path, c.File.Length
	if err := a.l.decide(st, c); err != nil {
		off.Reason = err.Error()
	} else {
		off.Install = true
	}
	return off, nil
}
