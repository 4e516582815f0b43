package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"eidkiosk/authority/review"
)

// The officer and review commands on a fresh store: an officer added from
// standard input and listed, an empty queue in JSON, and an unknown
// enrollment refused with a clear message.
func TestReviewCommands(t *testing.T) {
	ctx := context.Background()
	data := filepath.Join(t.TempDir(), "data")
	var out, errb bytes.Buffer
	app.Stdout, app.Stderr = &out, &errb
	defer func() { app.Stdout, app.Stderr, stdin = nil, nil, nil }()
	run := func(args ...string) error {
		out.Reset()
		return app.Run(ctx, append(args, "--data", data))
	}
	stdin = strings.NewReader("correct horse battery\n")
	if err := app.Run(ctx, []string{"officer", "add", "--data", data, "li.officer"}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "officer li.officer added") || !strings.Contains(out.String(), "otpauth://totp/") {
		t.Errorf("officer add printed %q", out.String())
	}
	if err := run("officer", "list"); err != nil || !strings.Contains(out.String(), "li.officer  active") {
		t.Errorf("officer list: %v %q", err, out.String())
	}
	if err := run("review", "list", "--json"); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Counts map[string]int
		Queue  []review.Item
	}
	if err := json.Unmarshal(out.Bytes(), &got); err != nil || got.Queue == nil || len(got.Queue) != 0 || got.Counts["needs_review"] != 0 {
		t.Errorf("review list --json: %v %q", err, out.String())
	}
	err := app.Run(ctx, []string{"review", "approve", "--data", data, "0190a0a0-dead-7000-8000-000000000000"})
	if !errors.Is(err, review.ErrNotFound) {
		t.Errorf("approve unknown: %v", err)
	}
	err = app.Run(ctx, []string{"review", "reject", "--data", data, "--reason", "bad_vibes", "0190a0a0-dead-7000-8000-000000000000"})
	if !errors.Is(err, review.ErrReason) {
		t.Errorf("reject with an unknown reason: %v", err)
	}
	if err := run("officer", "disable", "li.officer"); err == nil {
		t.Error("officer disable without a name worked")
	}
	if err := app.Run(ctx, []string{"officer", "disable", "--data", data, "li.officer"}); err != nil {
		t.Fatal(err)
	}
	if err := run("review", "audit"); err != nil || !strings.Contains(out.String(), "officer_disable") || !strings.Contains(out.String(), "officer_add") {
		t.Errorf("review audit: %v %q", err, out.String())
	}
}
