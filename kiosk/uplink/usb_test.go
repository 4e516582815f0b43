package uplink_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"eidkiosk/authority/intake"
	"eidkiosk/authority/intake/intaketest"
	"eidkiosk/enroll"
	"eidkiosk/kiosk/outbox"
)

// TestUSBRoundTrip: the network is down for days. The technician exports
// the outbox to a stick, the authority imports it and writes receipts, the
// receipts come back and free the outbox; when the network returns, nothing
// is stored twice. One receipt is forged and is refused.
func TestUSBRoundTrip(t *testing.T) {
	r := newRig(t, false)
	ctx := context.Background()
	var ids []string
	for range 5 {
		ids = append(ids, r.visit(t, intaketest.CitizenName, intaketest.RandomNumber(r.rnd)).EnrollmentID)
	}
	stateOutbox := filepath.Join(r.stateDir, "outbox")
	ro, err := outbox.Inspect(ctx, stateOutbox)
	if err != nil {
		t.Fatal(err)
	}
	usb := t.TempDir()
	if n, err := ro.Export(ctx, usb, nil); err != nil || n != 5 {
		t.Fatalf("export: %d %v", n, err)
	}
	ro.Close()
	grepDir(t, usb, intaketest.CitizenName, intaketest.CitizenNumber, intaketest.CitizenAddress)

	res, err := r.auth.Intake.Import(ctx, usb, nil)
	if err != nil || res.Stored != 5 {
		t.Fatalf("import: %+v %v", res, err)
	}
	// Replace one receipt with another package's (a valid signature for
	// the wrong enrollment).
	other, _ := os.ReadFile(filepath.Join(usb, ids[0]+outbox.ReceiptExt))
	os.WriteFile(filepath.Join(usb, ids[4]+outbox.ReceiptExt), other, 0o644)

	sh, err := outbox.OpenShared(ctx, stateOutbox)
	if err != nil {
		t.Fatal(err)
	}
	n, bad, err := sh.AckReceipts(ctx, usb, enroll.ReceiptVerifier(r.auth.Intake.ReceiptPublicKey()))
	sh.Close()
	if err != nil || n != 4 || len(bad) != 1 || bad[0] != ids[4] {
		t.Fatalf("receipts: %d acked, refused %v, %v", n, bad, err)
	}
	if _, err := r.box.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if st := r.box.Stats(); st.Pending != 1 || st.Acked != 4 {
		t.Fatalf("after receipts: %+v", st)
	}
	// The network returns: the last one is uploaded, answered as a repeat.
	r.auth.Serve(t, r.auth.Addr())
	r.run(t)
	r.drained(t)
	if n, _ := r.auth.Intake.Count(ctx); n != 5 {
		t.Fatalf("authority holds %d, want 5", n)
	}
	for _, id := range ids {
		if s, _, _ := r.box.State(ctx, id); s != outbox.Acked {
			t.Errorf("%s: %s", id, s)
		}
	}
}

func TestFileNamesAgree(t *testing.T) {
	if outbox.ReceiptExt != intake.ReceiptExt || outbox.PackageExt != intake.PackageExt {
		t.Fatal("kiosk and authority disagree on export file names")
	}
}
