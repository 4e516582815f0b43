package review

import (
	"crypto/subtle"
	"embed"
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"
)

//go:embed web
var webFS embed.FS

// Cookie names: __Host- cookies are Secure, host-only and path /.
const (
	sessionCookie = "__Host-review-session"
	loginCookie   = "__Host-review-login"
	langCookie    = "__Host-review-lang"
)

// The console's security headers, on every response.
const csp = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// Console is the officers' web console: server-rendered pages
// (html/template, no JavaScript), CSRF tokens on every form, a strict
// Content-Security-Policy and no caching. Serve it on its own loopback TLS
// listener (service.ServeAdmin); it never shares the terminals' server.
type Console struct {
	s    *Store
	log  *slog.Logger
	tmpl map[string]*template.Template
	mux  *http.ServeMux
}

// Console returns the console for this store. logger gets routes and
// outcomes, never personal data.
func (s *Store) Console(logger *slog.Logger) *Console {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	c := &Console{s: s, log: logger, tmpl: map[string]*template.Template{}, mux: http.NewServeMux()}
	for _, page := range []string{"login", "queue", "case", "message"} {
		c.tmpl[page] = template.Must(template.New("layout.html").Funcs(funcs).ParseFS(webFS, "web/layout.html", "web/"+page+".html"))
	}
	c.mux.HandleFunc("GET /static/style.css", c.style)
	c.mux.HandleFunc("GET /login", c.loginForm)
	c.mux.HandleFunc("POST /login", c.login)
	c.mux.HandleFunc("POST /logout", c.auth(c.logout))
	c.mux.HandleFunc("GET /{$}", c.auth(c.queue))
	c.mux.HandleFunc("GET /enrollments/{id}", c.auth(c.caseView))
	c.mux.HandleFunc("GET /enrollments/{id}/pictures/{kind}/{n}", c.auth(c.picture))
	c.mux.HandleFunc("POST /enrollments/{id}/address", c.auth(c.address))
	c.mux.HandleFunc("POST /enrollments/{id}/decision", c.auth(c.decision))
	return c
}

// ServeHTTP implements http.Handler.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", csp)
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	h.Set("Strict-Transport-Security", "max-age=31536000")
	c.mux.ServeHTTP(w, r)
}

func (c *Console) style(w http.ResponseWriter, r *http.Request) {
	b, _ := webFS.ReadFile("web/style.css")
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	w.Write(b)
}

// page is what every template gets.
type page struct {
	Lang    string
	T       map[string]string
	Officer string
	CSRF    string
	Path    string
	Error   string
	Data    any
}

func (c *Console) render(w http.ResponseWriter, r *http.Request, status int, name string, p page) {
	p.Lang = lang(w, r)
	p.T = texts[p.Lang]
	p.Path = r.URL.Path
	if p.Error != "" {
		p.Error = p.T[p.Error]
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if err := c.tmpl[name].Execute(w, p); err != nil {
		c.log.Error("review console: render", "page", name, "err", err)
	}
}

// message renders a refusal or an outcome: key is a text key.
func (c *Console) message(w http.ResponseWriter, r *http.Request, status int, sess *Session, key string) {
	p := page{Error: key}
	if sess != nil {
		p.Officer, p.CSRF = sess.Officer, sess.CSRF
	}
	c.render(w, r, status, "message", p)
}

// lang picks zh or en: ?lang= (remembered in a cookie), the cookie, then
// Accept-Language.
func lang(w http.ResponseWriter, r *http.Request) string {
	if l := r.URL.Query().Get("lang"); l == "zh" || l == "en" {
		http.SetCookie(w, &http.Cookie{Name: langCookie, Value: l, Path: "/", Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode})
		return l
	}
	if ck, err := r.Cookie(langCookie); err == nil && (ck.Value == "zh" || ck.Value == "en") {
		return ck.Value
	}
	if strings.HasPrefix(strings.ToLower(r.Header.Get("Accept-Language")), "zh") {
		return "zh"
	}
	return "en"
}

type handler func(w http.ResponseWriter, r *http.Request, sess *Session)

// auth requires a live session, and on POST its CSRF token.
func (c *Console) auth(h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var token string
		if ck, err := r.Cookie(sessionCookie); err == nil {
			token = ck.Value
		}
		sess, err := c.s.Authenticate(r.Context(), token)
		switch {
		case errors.Is(err, ErrDisabled):
			c.clearSession(w)
			c.message(w, r, http.StatusForbidden, nil, "err_disabled")
			return
		case errors.Is(err, ErrSession):
			c.clearSession(w)
			if r.Method == http.MethodGet && token == "" {
				http.Redirect(w, r, "/login", http.StatusSeeOther)
				return
			}
			c.message(w, r, http.StatusUnauthorized, nil, "err_session")
			return
		case err != nil:
			c.log.Error("review console: session", "err", err)
			c.message(w, r, http.StatusInternalServerError, nil, "err_internal")
			return
		}
		if r.Method == http.MethodPost {
			got := r.PostFormValue("csrf")
			if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(sess.CSRF)) != 1 {
				c.s.audit(r.Context(), c.s.db, sess.Officer, "csrf_refused", r.PathValue("id"), r.URL.Path)
				c.message(w, r, http.StatusForbidden, sess, "err_csrf")
				return
			}
		}
		h(w, r, sess)
	}
}

func (c *Console) clearSession(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode})
}

func (c *Console) loginForm(w http.ResponseWriter, r *http.Request) {
	tok := randomToken()
	http.SetCookie(w, &http.Cookie{Name: loginCookie, Value: tok, Path: "/", Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	c.render(w, r, http.StatusOK, "login", page{CSRF: tok})
}

func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	// Login CSRF: the form's token must equal the cookie set with the form.
	ck, err := r.Cookie(loginCookie)
	got := r.PostFormValue("csrf")
	if err != nil || got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(ck.Value)) != 1 {
		c.message(w, r, http.StatusForbidden, nil, "err_csrf")
		return
	}
	sess, err := c.s.Login(r.Context(), strings.TrimSpace(r.PostFormValue("name")), r.PostFormValue("password"), r.PostFormValue("code"))
	if err != nil {
		key, status := "err_login", http.StatusUnauthorized
		switch {
		case errors.Is(err, ErrLocked):
			key, status = "err_locked", http.StatusForbidden
		case errors.Is(err, ErrDisabled):
			key, status = "err_disabled", http.StatusForbidden
		case !errors.Is(err, ErrLogin):
			c.log.Error("review console: login", "err", err)
			key, status = "err_internal", http.StatusInternalServerError
		}
		tok := randomToken()
		http.SetCookie(w, &http.Cookie{Name: loginCookie, Value: tok, Path: "/", Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode})
		c.render(w, r, status, "login", page{CSRF: tok, Error: key})
		return
	}
	http.SetCookie(w, &http.Cookie{Name: loginCookie, Value: "", Path: "/", MaxAge: -1, Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: sess.Token, Path: "/", Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	c.log.Info("review console: login", "officer", sess.Officer)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (c *Console) logout(w http.ResponseWriter, r *http.Request, sess *Session) {
	ck, _ := r.Cookie(sessionCookie)
	if err := c.s.Logout(r.Context(), ck.Value); err != nil {
		c.log.Error("review console: logout", "err", err)
	}
	c.clearSession(w)
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

type queueData struct {
	Items  []Item
	Counts Counts
}

func (c *Console) queue(w http.ResponseWriter, r *http.Request, sess *Session) {
	items, err := c.s.Queue(r.Context(), NeedsReview, 0)
	if err == nil {
		var counts Counts
		if counts, err = c.s.Counts(r.Context()); err == nil {
			c.s.audit(r.Context(), c.s.db, sess.Officer, "view_queue", "", strconv.Itoa(len(items)))
			c.render(w, r, http.StatusOK, "queue", page{Officer: sess.Officer, CSRF: sess.CSRF, Data: queueData{items, counts}})
			return
		}
	}
	c.log.Error("review console: queue", "err", err)
	c.message(w, r, http.StatusInternalServerError, sess, "err_internal")
}

type caseData struct {
	*Case
	Reasons  []string
	Address  string
	Done     string // the decision just made
	Evidence []int
}

func (c *Console) showCase(w http.ResponseWriter, r *http.Request, sess *Session, status int, d caseData) {
	cs, err := c.s.Case(r.Context(), r.PathValue("id"), sess.Officer)
	if errors.Is(err, ErrNotFound) {
		c.message(w, r, http.StatusNotFound, sess, "err_not_found")
		return
	}
	if err != nil {
		c.log.Error("review console: case", "err", err)
		c.message(w, r, http.StatusInternalServerError, sess, "err_internal")
		return
	}
	d.Case, d.Reasons = cs, RejectReasons
	if cs.Purged.IsZero() {
		for i := range cs.Evidence {
			d.Evidence = append(d.Evidence, i)
		}
	}
	c.render(w, r, status, "case", page{Officer: sess.Officer, CSRF: sess.CSRF, Data: d})
}

func (c *Console) caseView(w http.ResponseWriter, r *http.Request, sess *Session) {
	c.showCase(w, r, sess, http.StatusOK, caseData{})
}

func (c *Console) address(w http.ResponseWriter, r *http.Request, sess *Session) {
	a, err := c.s.Address(r.Context(), r.PathValue("id"), sess.Officer)
	if errors.Is(err, ErrNotFound) {
		c.message(w, r, http.StatusNotFound, sess, "err_not_found")
		return
	}
	if err != nil {
		c.log.Error("review console: address", "err", err)
		c.message(w, r, http.StatusInternalServerError, sess, "err_internal")
		return
	}
	c.showCase(w, r, sess, http.StatusOK, caseData{Address: a.Reveal()})
}

func (c *Console) decision(w http.ResponseWriter, r *http.Request, sess *Session) {
	id, note := r.PathValue("id"), strings.TrimSpace(r.PostFormValue("note"))
	var err error
	switch r.PostFormValue("action") {
	case "approve":
		err = c.s.Approve(r.Context(), id, sess.Officer, note)
	case "reject":
		err = c.s.Reject(r.Context(), id, sess.Officer, r.PostFormValue("reason"), note)
	default:
		c.message(w, r, http.StatusBadRequest, sess, "err_action")
		return
	}
	switch {
	case errors.Is(err, ErrNotFound):
		c.message(w, r, http.StatusNotFound, sess, "err_not_found")
	case errors.Is(err, ErrNotPending):
		c.message(w, r, http.StatusConflict, sess, "err_decided")
	case errors.Is(err, ErrReason):
		c.message(w, r, http.StatusBadRequest, sess, "err_reason")
	case err != nil:
		c.log.Error("review console: decision", "err", err)
		c.message(w, r, http.StatusInternalServerError, sess, "err_internal")
	default:
		c.log.Info("review console: decision", "officer", sess.Officer, "enrollment", id, "action", r.PostFormValue("action"))
		c.showCase(w, r, sess, http.StatusOK, caseData{Done: r.PostFormValue("action")})
	}
}

func (c *Console) picture(w http.ResponseWriter, r *http.Request, sess *Session) {
	n, _ := strconv.Atoi(r.PathValue("n"))
	b, err := c.s.Picture(r.Context(), r.PathValue("id"), r.PathValue("kind"), n)
	switch {
	case errors.Is(err, ErrNotFound), errors.Is(err, ErrPurged):
		http.Error(w, "no such picture", http.StatusNotFound)
		return
	case err != nil:
		c.log.Error("review console: picture", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", http.DetectContentType(b))
	w.Write(b)
}

var funcs = template.FuncMap{
	"date": func(t time.Time) string { return t.Format("2006-01-02 15:04") },
	"pct":  func(f float64) string { return strconv.FormatFloat(f, 'f', 3, 64) },
	"num":  func(f float64) string { return strconv.FormatFloat(f, 'f', 1, 64) },
	"join": strings.Join,
	"tr": func(t map[string]string, key string) string {
		if s, ok := t[key]; ok {
			return s
		}
		return key
	},
}
