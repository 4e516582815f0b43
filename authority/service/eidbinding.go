package service

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"

	"eidkiosk/authority/binding"
	"eidkiosk/authority/intake"
	"eidkiosk/internal/pii"
)

// This file adapts the intake to the phone e-ID module (authority/binding).
// intakeStatus stands in for the review status store (authority/review)
// until it lands: swap it there, nothing else changes.

// intakeStatus says "verified" when the intake's checks flagged nothing and
// "needs_review" otherwise; it never approves or rejects (an officer does,
// in the review console).
type intakeStatus struct{ in *intake.Intake }

func (s intakeStatus) Status(ctx context.Context, id string) (string, error) {
	st, err := s.in.Status(ctx, id)
	if errors.Is(err, intake.ErrNotFound) {
		return "", binding.ErrUnknownEnrollment
	}
	if err != nil {
		return "", err
	}
	if len(st.Flags) == 0 {
		return binding.StatusVerified, nil
	}
	return binding.StatusNeedsReview, nil
}

// intakeReceipts opens the stored package for the binding code's hash and
// the masked name, and wipes it at once.
type intakeReceipts struct{ in *intake.Intake }

func (s intakeReceipts) Receipt(ctx context.Context, id string) (binding.Receipt, error) {
	st, err := s.in.Status(ctx, id)
	if errors.Is(err, intake.ErrNotFound) {
		return binding.Receipt{}, binding.ErrUnknownEnrollment
	}
	if err != nil {
		return binding.Receipt{}, err
	}
	received, err := time.Parse(time.RFC3339Nano, st.Received)
	if err != nil {
		return binding.Receipt{}, fmt.Errorf("service: enrollment received time: %w", err)
	}
	rec, err := s.in.Record(ctx, id)
	if err != nil {
		return binding.Receipt{}, fmt.Errorf("service: open enrollment: %w", err)
	}
	defer rec.Wipe()
	name := rec.Card.Name
	if name == "" {
		name = rec.Card.NameEN
	}
	return binding.Receipt{CodeHash: sha256.Sum256([]byte(rec.BindingCode)), Received: received, MaskedName: pii.Mask(name, 0)}, nil
}
