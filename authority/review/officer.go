package review

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
	"golang.org/x/crypto/argon2"
)

// Errors of officer accounts and sessions.
var (
	ErrLogin        = errors.New("review: wrong officer name, password or one-time code")
	ErrLocked       = errors.New("review: account locked after repeated failures; try later or ask an administrator")
	ErrDisabled     = errors.New("review: officer account disabled")
	ErrSession      = errors.New("review: session expired or unknown; log in again")
	ErrOfficer      = errors.New("review: no such officer")
	ErrOfficerTaken = errors.New("review: an officer of that name exists")
	ErrPassword     = errors.New("review: password too short (at least 12 characters)")
)

// argon2id parameters: RFC 9106 §4, the second recommended option
// (t=3, m=64 MiB, p=4), 16-byte salt, 32-byte tag.
const (
	argonTime    = 3
	argonMemory  = 64 * 1024
	argonThreads = 4
	argonKeyLen  = 32
)

// TOTP per RFC 6238 with the authenticator apps' defaults: SHA-1, 6 digits,
// 30-second steps; one step of clock skew either way.
const (
	totpPeriod = 30
	totpSkew   = 1
	issuer     = "eidkiosk authority"
)

var officerName = regexp.MustCompile(`^[a-z][a-z0-9._-]{1,31}$`)

// Officer is an account as listed.
type Officer struct {
	Name        string    `json:"name"`
	Disabled    bool      `json:"disabled"`
	Failures    int       `json:"failures"`
	LockedUntil time.Time `json:"locked_until,omitzero"`
	Created     time.Time `json:"created"`
}

// HashPassword returns the PHC-formatted argon2id hash of password.
func HashPassword(password string) (string, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("review: salt: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// CheckPassword reports whether password matches a HashPassword hash (with
// the parameters stored in it).
func CheckPassword(hash, password string) bool {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false
	}
	var v int
	var m, t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return false
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil || m == 0 || t == 0 || p == 0 || m > 1<<22 {
		return false
	}
	b64 := base64.RawStdEncoding
	salt, err1 := b64.DecodeString(parts[4])
	want, err2 := b64.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(want) == 0 {
		return false
	}
	got := argon2.IDKey([]byte(password), salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}

// dummyHash equalises the time of a login with an unknown name; made on
// first use (an argon2id hash is not free: not at every binary's start).
var dummyHash = sync.OnceValue(func() string {
	h, _ := HashPassword("not a password of anyone")
	return h
})

// AddOfficer creates an account and returns its TOTP key (the secret and an
// otpauth:// URL for the officer's authenticator app; shown once).
func (s *Store) AddOfficer(ctx context.Context, name, password, actor string) (*otp.Key, error) {
	if !officerName.MatchString(name) {
		return nil, fmt.Errorf("review: officer name %q: 2–32 of a-z, 0-9, '.', '_', '-', starting with a letter", name)
	}
	if len([]rune(password)) < 12 {
		return nil, ErrPassword
	}
	hash, err := HashPassword(password)
	if err != nil {
		return nil, err
	}
	key, err := totp.Generate(totp.GenerateOpts{Issuer: issuer, AccountName: name, Period: totpPeriod,
		Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		return nil, fmt.Errorf("review: totp secret: %w", err)
	}
	res, err := s.db.ExecContext(ctx, s.db.Rebind(`INSERT INTO review_officers (name, password, totp_secret, created) VALUES (?, ?, ?, ?)
		ON CONFLICT (name) DO NOTHING`), name, hash, key.Secret(), s.now().UnixMilli())
	if err != nil {
		return nil, fmt.Errorf("review: add officer: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil, fmt.Errorf("%w: %s", ErrOfficerTaken, name)
	}
	if err := s.audit(ctx, s.db, actor, "officer_add", "", name); err != nil {
		return nil, err
	}
	return key, nil
}

// DisableOfficer disables an account; its open sessions end at their next
// request.
func (s *Store) DisableOfficer(ctx context.Context, name, actor string) error {
	res, err := s.db.ExecContext(ctx, s.db.Rebind(`UPDATE review_officers SET disabled = 1 WHERE name = ?`), name)
	if err != nil {
		return fmt.Errorf("review: disable officer: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("%w: %s", ErrOfficer, name)
	}
	// Its sessions are refused from the next request on (Authenticate
	// checks the account every time) with "account disabled".
	return s.audit(ctx, s.db, actor, "officer_disable", "", name)
}

// Officers lists the accounts by name.
func (s *Store) Officers(ctx context.Context) ([]Officer, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT name, disabled, failures, locked_until, created FROM review_officers ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("review: officers: %w", err)
	}
	defer rows.Close()
	var out []Officer
	for rows.Next() {
		var o Officer
		var dis, locked, created int64
		if err := rows.Scan(&o.Name, &dis, &o.Failures, &locked, &created); err != nil {
			return nil, fmt.Errorf("review: officers: %w", err)
		}
		o.Disabled, o.Created = dis != 0, time.UnixMilli(created).UTC()
		if locked > s.now().UnixMilli() {
			o.LockedUntil = time.UnixMilli(locked).UTC()
		}
		out = append(out, o)
	}
	return out, rows.Err()
}

// Session is a logged-in officer.
type Session struct {
	Officer string
	CSRF    string // the token every form must carry
	Token   string // the cookie value (only set by Login)
}

// Login checks name, password and TOTP code and opens a session. Unknown
// names, wrong passwords and wrong codes all return ErrLogin (and count as
// failures of a known account); a locked account is refused even with the
// right credentials, a disabled one with ErrDisabled once they are right. A
// TOTP code is accepted once.
func (s *Store) Login(ctx context.Context, name, password, code string) (*Session, error) {
	now := s.now()
	var hash, secret string
	var step, dis, failures, locked int64
	err := s.db.QueryRowContext(ctx, s.db.Rebind(`SELECT password, totp_secret, totp_step, disabled, failures, locked_until FROM review_officers WHERE name = ?`), name).
		Scan(&hash, &secret, &step, &dis, &failures, &locked)
	if errors.Is(err, sql.ErrNoRows) {
		CheckPassword(dummyHash(), password)
		s.audit(ctx, s.db, "-", "login_failed", "", "unknown officer")
		return nil, ErrLogin
	}
	if err != nil {
		return nil, fmt.Errorf("review: login: %w", err)
	}
	if locked > now.UnixMilli() {
		s.audit(ctx, s.db, name, "login_failed", "", "locked")
		return nil, ErrLocked
	}
	okPw := CheckPassword(hash, password)
	newStep, okCode := checkTOTP(secret, code, now, step)
	if !okPw || !okCode {
		why := "password"
		if okPw {
			why = "one-time code"
		}
		failures++
		lockUntil := int64(0)
		if failures >= int64(s.opts.MaxFailures) {
			lockUntil, failures = now.Add(s.opts.LockFor).UnixMilli(), 0
			why += "; locked for " + s.opts.LockFor.String()
		}
		if _, err := s.db.ExecContext(ctx, s.db.Rebind(`UPDATE review_officers SET failures = ?, locked_until = ? WHERE name = ?`), failures, lockUntil, name); err != nil {
			return nil, fmt.Errorf("review: login: %w", err)
		}
		s.audit(ctx, s.db, name, "login_failed", "", why)
		if lockUntil != 0 {
			return nil, ErrLocked
		}
		return nil, ErrLogin
	}
	// A disabled account learns so only with the right credentials.
	if dis != 0 {
		s.audit(ctx, s.db, name, "login_failed", "", "disabled")
		return nil, ErrDisabled
	}
	// The step only moves forward: a replayed code fails above.
	res, err := s.db.ExecContext(ctx, s.db.Rebind(`UPDATE review_officers SET failures = 0, locked_until = 0, totp_step = ? WHERE name = ? AND totp_step < ?`), newStep, name, newStep)
	if err != nil {
		return nil, fmt.Errorf("review: login: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil, ErrLogin
	}
	token, csrf := randomToken(), randomToken()
	th := sha256.Sum256([]byte(token))
	if _, err := s.db.ExecContext(ctx, s.db.Rebind(`INSERT INTO review_sessions (token_hash, officer, csrf, created, last_seen) VALUES (?, ?, ?, ?, ?)`),
		th[:], name, csrf, now.UnixMilli(), now.UnixMilli()); err != nil {
		return nil, fmt.Errorf("review: login: %w", err)
	}
	if err := s.audit(ctx, s.db, name, "login", "", ""); err != nil {
		return nil, err
	}
	return &Session{Officer: name, CSRF: csrf, Token: token}, nil
}

// checkTOTP returns the time step code belongs to when it is valid within
// the skew and later than last.
func checkTOTP(secret, code string, now time.Time, last int64) (int64, bool) {
	code = strings.TrimSpace(code)
	if len(code) != 6 {
		return 0, false
	}
	opts := totp.ValidateOpts{Period: totpPeriod, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}
	cur := now.Unix() / totpPeriod
	for d := int64(-totpSkew); d <= totpSkew; d++ {
		step := cur + d
		want, err := totp.GenerateCodeCustom(secret, time.Unix(step*totpPeriod, 0), opts)
		if err != nil {
			return 0, false
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 && step > last {
			return step, true
		}
	}
	return 0, false
}

func randomToken() string {
	b := make([]byte, 32)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// Authenticate returns the session of a cookie token and extends its idle
// time. An expired session is deleted; a disabled officer's session is
// refused (ErrDisabled) and deleted.
func (s *Store) Authenticate(ctx context.Context, token string) (*Session, error) {
	if token == "" {
		return nil, ErrSession
	}
	th := sha256.Sum256([]byte(token))
	now := s.now()
	var sess Session
	var created, last, dis int64
	err := s.db.QueryRowContext(ctx, s.db.Rebind(`SELECT s.officer, s.csrf, s.created, s.last_seen, o.disabled
		FROM review_sessions s JOIN review_officers o ON o.name = s.officer WHERE s.token_hash = ?`), th[:]).
		Scan(&sess.Officer, &sess.CSRF, &created, &last, &dis)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrSession
	}
	if err != nil {
		return nil, fmt.Errorf("review: session: %w", err)
	}
	expired := now.Sub(time.UnixMilli(last)) > s.opts.SessionIdle || now.Sub(time.UnixMilli(created)) > s.opts.SessionMax
	if dis != 0 || expired {
		s.db.ExecContext(ctx, s.db.Rebind(`DELETE FROM review_sessions WHERE token_hash = ?`), th[:])
		if dis != 0 {
			s.audit(ctx, s.db, sess.Officer, "session_refused", "", "disabled")
			return nil, ErrDisabled
		}
		s.audit(ctx, s.db, sess.Officer, "session_expired", "", "")
		return nil, ErrSession
	}
	if _, err := s.db.ExecContext(ctx, s.db.Rebind(`UPDATE review_sessions SET last_seen = ? WHERE token_hash = ?`), now.UnixMilli(), th[:]); err != nil {
		return nil, fmt.Errorf("review: session: %w", err)
	}
	return &sess, nil
}

// Logout ends a session.
func (s *Store) Logout(ctx context.Context, token string) error {
	sess, err := s.Authenticate(ctx, token)
	if err != nil {
		return nil
	}
	th := sha256.Sum256([]byte(token))
	if _, err := s.db.ExecContext(ctx, s.db.Rebind(`DELETE FROM review_sessions WHERE token_hash = ?`), th[:]); err != nil {
		return fmt.Errorf("review: logout: %w", err)
	}
	return s.audit(ctx, s.db, sess.Officer, "logout", "", "")
}
