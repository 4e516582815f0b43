package review_test

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"eidkiosk/authority/intake/intaketest"
	"eidkiosk/authority/review"
)

// The console's refusals over plain HTTP (no browser needed): a login
// without its CSRF token, a decision without or with another session's
// token, an unknown enrollment, and a request without a session.
func TestConsoleRefusals(t *testing.T) {
	f := newFixture(t, review.Options{})
	f.submit(t, intaketest.CitizenNumber, nil)
	id := f.submit(t, intaketest.CitizenNumber, nil)
	const pw = "correct horse battery"
	secret := f.officer(t, "li.officer", pw)
	srv := httptest.NewTLSServer(f.rv.Console(nil))
	defer srv.Close()
	jar, _ := cookiejar.New(nil)
	c := srv.Client()
	c.Jar = jar
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	csrfField := regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`)
	do := func(method, path string, form url.Values) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(form.Encode()))
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	if st, _ := do("GET", "/", nil); st != http.StatusSeeOther {
		t.Errorf("no session: %d", st)
	}
	creds := url.Values{"name": {"li.officer"}, "password": {pw}, "code": {f.code(t, secret, 0)}}
	if st, body := do("POST", "/login", creds); st != http.StatusForbidden || !strings.Contains(body, "security token") {
		t.Errorf("login without CSRF: %d", st)
	}
	_, body := do("GET", "/login", nil)
	m := csrfField.FindStringSubmatch(body)
	if m == nil {
		t.Fatal("no CSRF field on the login form")
	}
	creds.Set("csrf", m[1])
	if st, _ := do("POST", "/login", creds); st != http.StatusSeeOther {
		t.Fatalf("login: %d", st)
	}
	_, body = do("GET", "/enrollments/"+id, nil)
	m = csrfField.FindStringSubmatch(body)
	if m == nil || strings.Contains(body, intaketest.CitizenNumber) || strings.Contains(body, intaketest.CitizenAddress) {
		t.Fatal("case page: no CSRF field, or personal data in clear")
	}
	for _, tok := range []string{"", strings.Repeat("0", len(m[1]))} {
		if st, _ := do("POST", "/enrollments/"+id+"/decision", url.Values{"action": {"approve"}, "csrf": {tok}}); st != http.StatusForbidden {
			t.Errorf("decision with CSRF %q: %d", tok, st)
		}
	}
	if st, _ := do("POST", "/enrollments/nope/decision", url.Values{"action": {"approve"}, "csrf": {m[1]}}); st != http.StatusNotFound {
		t.Errorf("unknown enrollment: %d", st)
	}
	if st, _ := do("POST", "/enrollments/"+id+"/decision", url.Values{"action": {"reject"}, "reason": {"nope"}, "csrf": {m[1]}}); st != http.StatusBadRequest {
		t.Errorf("unknown reason: %d", st)
	}
	if st, _ := f.rv.Status(t.Context(), id); st != review.NeedsReview {
		t.Errorf("refusals changed the status to %s", st)
	}
	if st, _ := do("POST", "/enrollments/"+id+"/decision", url.Values{"action": {"approve"}, "csrf": {m[1]}}); st != http.StatusOK {
		t.Errorf("approve: %d", st)
	}
	if st, _ := do("POST", "/enrollments/"+id+"/decision", url.Values{"action": {"approve"}, "csrf": {m[1]}}); st != http.StatusConflict {
		t.Errorf("second decision: %d", st)
	}
}
