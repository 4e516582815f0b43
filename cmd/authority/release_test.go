package main

import (
	"context"
	"errors"
	"strings"
	"testing"

	"eidkiosk/internal/cli"
)

// `eidkiosk-authority release --help` lists the release commands, each
// command's --help describes it, and sign refuses to run without a rollout
// plan instead of defaulting to one that reaches no new terminal.
func TestReleaseHelpAndPlan(t *testing.T) {
	var out, errb strings.Builder
	app.Stdout, app.Stderr = &out, &errb
	defer func() { app.Stdout, app.Stderr = nil, nil }()
	if err := app.Run(context.Background(), []string{"release", "--help"}); err != nil {
		t.Fatalf("release --help: %v (%s)", err, errb.String())
	}
	for _, w := range []string{"init", "pack", "sign", "rollout", "publish", "each has --help"} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("release --help lacks %q:\n%s", w, out.String())
		}
	}
	out.Reset()
	if err := app.Run(context.Background(), []string{"release"}); err != nil {
		t.Fatalf("release: %v", err)
	}
	if !strings.Contains(out.String(), "release sign") || !strings.Contains(out.String(), "release publish") {
		t.Errorf("release lists no commands:\n%s", out.String())
	}
	out.Reset()
	if err := app.Run(context.Background(), []string{"release", "sign", "--help"}); err != nil || !strings.Contains(out.String(), "-channels string") {
		t.Fatalf("release sign --help: %v\n%s", err, out.String())
	}
	dir := t.TempDir()
	err := app.Run(context.Background(), []string{"release", "sign", "--repo", dir, "--offline-keys", dir, "--file", "x.tar.gz"})
	if !errors.Is(err, cli.ErrUsage) || !strings.Contains(err.Error(), "--channels is required") {
		t.Fatalf("sign without a rollout plan: %v", err)
	}
}
