package demo

import (
	"context"
	"slices"
	"strings"
	"testing"

	"eidkiosk/authority/review"
	"eidkiosk/drivers/idcard/sim"
)

// TestDemoNeedsReview is `kioskctl demo --card 9`: the kiosk cannot decode
// the card photo and compares nothing; the authority's reference photo of
// the holder is another person, so the enrollment is flagged face_mismatch
// and waits in the officers' queue, status needs_review, while the
// terminal's status query learns only the status.
func TestDemoNeedsReview(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole demo")
	}
	ctx := context.Background()
	env, res, out := runDemo(t, sim.DemoReviewCard)
	if !res.AtAuthority || res.CardPhoto || res.Status != review.NeedsReview || !slices.Contains(res.Flags, "face_mismatch") {
		t.Fatalf("result %+v", res)
	}
	if !strings.Contains(out.String(), "status at the authority: needs_review") {
		t.Error("the narration does not say the status")
	}
	q, err := env.Stack.Authority.Review.Queue(ctx, review.NeedsReview, 0)
	if err != nil || len(q) != 1 || q[0].EnrollmentID != res.EnrollmentID || !slices.Contains(q[0].Flags, "face_mismatch") {
		t.Fatalf("queue %+v, %v", q, err)
	}
	st, err := env.Stack.Authority.Intake.Status(ctx, res.EnrollmentID)
	if err != nil || st.State != review.NeedsReview {
		t.Fatalf("intake status %+v, %v", st, err)
	}
}
