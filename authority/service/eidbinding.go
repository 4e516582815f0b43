package service

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"

	"eidkiosk/authority/binding"
	"eidkiosk/authority/intake"
	"eidkiosk/authority/review"
	"eidkiosk/internal/pii"
)

// This file adapts the intake and the review status store to the phone
// e-ID module (authority/binding).

// reviewStatus is the enrollment's status as the review store keeps it
// (received, verified, needs_review, approved, rejected): a binding waits
// for verified or approved and is refused when rejected.
type reviewStatus struct{ rv *review.Store }

func (s reviewStatus) Status(ctx context.Context, id string) (string, error) {
	st, err := s.rv.Status(ctx, id)
	if errors.Is(err, review.ErrNotFound) {
		return "", binding.ErrUnknownEnrollment
	}
	if err != nil {
		return "", err
	}
	return string(st), nil
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
