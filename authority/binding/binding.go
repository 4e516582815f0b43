package binding

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"eidkiosk/authority"
	"eidkiosk/eidcred"
	"eidkiosk/enroll"
	"eidkiosk/internal/clock"
)

// StatusSource says where an enrollment stands in the authority's review:
// "received", "verified", "needs_review", "approved" or "rejected".
type StatusSource interface {
	Status(ctx context.Context, enrollmentID string) (string, error)
}

// Enrollment statuses of a StatusSource.
const (
	StatusReceived    = "received"
	StatusVerified    = "verified"
	StatusNeedsReview = "needs_review"
	StatusApproved    = "approved"
	StatusRejected    = "rejected"
)

// Receipt is what the module needs of a stored enrollment.
type Receipt struct {
	CodeHash   [sha256.Size]byte // SHA-256 of the receipt's binding code
	Received   time.Time         // when the authority stored it
	MaskedName string            // for the credential, already masked (pii.Mask)
}

// Receipts looks up stored enrollments; it returns ErrUnknownEnrollment
// for an ID the authority does not hold.
type Receipts interface {
	Receipt(ctx context.Context, enrollmentID string) (Receipt, error)
}

// Sentinel errors; each maps to one refusal reason on the wire (eidcred.Reason*).
var (
	ErrUnknownEnrollment = errors.New("binding: no such enrollment")
	ErrCodeWrong         = errors.New("binding: wrong binding code")
	ErrCodeUsed          = errors.New("binding: the binding code was already used")
	ErrCodeExpired       = errors.New("binding: the binding code has expired")
	ErrRejected          = errors.New("binding: the enrollment was rejected")
	ErrRateLimited       = errors.New("binding: too many attempts")
	ErrNotFound          = errors.New("binding: no such binding")
	ErrProof             = errors.New("binding: the phone's proof of possession does not verify")
	ErrPending           = errors.New("binding: the enrollment is not accepted yet")
	ErrNotActive         = errors.New("binding: the binding is refused or revoked")
	ErrBadRequest        = errors.New("binding: malformed request")
)

// Options configure the module.
type Options struct {
	DataDir  string // where the issuer keys live (IssuerFile)
	Receipts Receipts
	Status   StatusSource
	Clock    clock.Clock
	Log      *slog.Logger
	// CodeTTL is how long after the authority received an enrollment its
	// binding code binds; 0: 7 days.
	CodeTTL time.Duration
	// Validity is a credential's lifetime; 0: 24 h.
	Validity time.Duration
	// FailedPerEnrollment is how many wrong codes an enrollment takes per
	// hour; 0: 5.
	FailedPerEnrollment int
	// PerSource is how many binding attempts one source address makes per
	// 10 minutes; 0: 30.
	PerSource int
	// RequestSkew is how far a credential request's time may be from the
	// authority's clock; 0: 5 minutes.
	RequestSkew time.Duration
}

// Module is the phone e-ID module.
type Module struct {
	o        Options
	db       *authority.DB
	mu       sync.Mutex
	keys     []issuerKey // the last signs
	byEnroll *limiter
	bySource *limiter
}

// New loads (or creates) the issuer keys.
func New(o Options) (*Module, error) {
	if o.DataDir == "" || o.Receipts == nil || o.Status == nil {
		return nil, errors.New("binding: data directory, receipts and status source are required")
	}
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.CodeTTL == 0 {
		o.CodeTTL = 7 * 24 * time.Hour
	}
	if o.Validity == 0 {
		o.Validity = 24 * time.Hour
	}
	if o.FailedPerEnrollment == 0 {
		o.FailedPerEnrollment = 5
	}
	if o.PerSource == 0 {
		o.PerSource = 30
	}
	if o.RequestSkew == 0 {
		o.RequestSkew = 5 * time.Minute
	}
	keys, err := loadKeys(o.DataDir, o.Clock.Now())
	if err != nil {
		return nil, err
	}
	return &Module{o: o, keys: keys,
		byEnroll: newLimiter(o.FailedPerEnrollment, time.Hour),
		bySource: newLimiter(o.PerSource, 10*time.Minute)}, nil
}

// Name implements authority.Module.
func (m *Module) Name() string { return "binding" }

// Migrate implements authority.Module: the binding_bindings table.
func (m *Module) Migrate(ctx context.Context, db *authority.DB) error {
	blob := "BLOB"
	if db.Dialect == authority.Postgres {
		blob = "BYTEA"
	}
	_, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS binding_bindings (
		id TEXT PRIMARY KEY,
		enrollment_id TEXT NOT NULL UNIQUE,
		holder `+blob+` NOT NULL,
		eid TEXT NOT NULL UNIQUE,
		created BIGINT NOT NULL,
		revoked BIGINT NOT NULL DEFAULT 0)`)
	if err != nil {
		return fmt.Errorf("binding: migrate: %w", err)
	}
	m.db = db
	return nil
}

// Binding is one bound phone.
type Binding struct {
	ID           string
	EnrollmentID string
	EID          string
	Holder       []byte // SEC 1
	Created      time.Time
	Revoked      bool
}

// Bind binds req.HolderKey to the enrollment; source is the caller's
// address for rate limiting.
func (m *Module) Bind(ctx context.Context, req eidcred.BindRequest, source string) (eidcred.BindingStatus, error) {
	now := m.o.Clock.Now()
	if !m.bySource.add(source, now) {
		return eidcred.BindingStatus{}, fmt.Errorf("%w from this address", ErrRateLimited)
	}
	id, _, err := enroll.ParseQR(enroll.QR(req.EnrollmentID, req.Code))
	if err != nil {
		return eidcred.BindingStatus{}, fmt.Errorf("%w: %v", ErrBadRequest, err)
	}
	holder, err := eidcred.ParseHolderKey(req.HolderKey)
	if err != nil {
		return eidcred.BindingStatus{}, fmt.Errorf("%w: %v", ErrBadRequest, err)
	}
	if m.byEnroll.full(id, now) {
		return eidcred.BindingStatus{}, fmt.Errorf("%w for this enrollment", ErrRateLimited)
	}
	rc, err := m.o.Receipts.Receipt(ctx, id)
	if errors.Is(err, ErrUnknownEnrollment) {
		m.byEnroll.add(id, now)
		return eidcred.BindingStatus{}, ErrCodeWrong
	}
	if err != nil {
		return eidcred.BindingStatus{}, fmt.Errorf("binding: enrollment: %w", err)
	}
	sum := sha256.Sum256([]byte(strings.ToUpper(strings.TrimSpace(req.Code))))
	if subtle.ConstantTimeCompare(sum[:], rc.CodeHash[:]) != 1 {
		m.byEnroll.add(id, now)
		m.o.Log.Info("binding: wrong code", "enrollment", id)
		return eidcred.BindingStatus{}, ErrCodeWrong
	}
	if now.Sub(rc.Received) > m.o.CodeTTL {
		return eidcred.BindingStatus{}, ErrCodeExpired
	}
	if _, err := m.byEnrollment(ctx, id); err == nil {
		return eidcred.BindingStatus{}, ErrCodeUsed
	} else if !errors.Is(err, ErrNotFound) {
		return eidcred.BindingStatus{}, err
	}
	state, err := m.state(ctx, id, false)
	if err != nil {
		return eidcred.BindingStatus{}, err
	}
	if state == eidcred.StateRefused {
		return eidcred.BindingStatus{}, ErrRejected
	}
	hk, _ := holder.Bytes()
	b := Binding{ID: randomHex(16), EnrollmentID: id, EID: newEID(), Holder: hk, Created: now}
	_, err = m.db.ExecContext(ctx, m.db.Rebind(`INSERT INTO binding_bindings (id, enrollment_id, holder, eid, created) VALUES (?, ?, ?, ?, ?)`),
		b.ID, b.EnrollmentID, b.Holder, b.EID, now.UnixMilli())
	if err != nil {
		if _, err2 := m.byEnrollment(ctx, id); err2 == nil {
			return eidcred.BindingStatus{}, ErrCodeUsed // a concurrent bind won
		}
		return eidcred.BindingStatus{}, fmt.Errorf("binding: store: %w", err)
	}
	m.o.Log.Info("binding: phone bound", "enrollment", id, "binding", b.ID, "state", state)
	return eidcred.BindingStatus{BindingID: b.ID, State: state}, nil
}

// state maps the enrollment's review status onto a binding state.
func (m *Module) state(ctx context.Context, enrollmentID string, revoked bool) (string, error) {
	if revoked {
		return eidcred.StateRevoked, nil
	}
	st, err := m.o.Status.Status(ctx, enrollmentID)
	if err != nil {
		return "", fmt.Errorf("binding: enrollment status: %w", err)
	}
	switch st {
	case StatusReceived, StatusNeedsReview:
		return eidcred.StatePending, nil
	case StatusVerified, StatusApproved:
		return eidcred.StateActive, nil
	case StatusRejected:
		return eidcred.StateRefused, nil
	}
	return "", fmt.Errorf("binding: unknown enrollment status %q", st)
}

// Status returns where a binding stands.
func (m *Module) Status(ctx context.Context, bindingID string) (eidcred.BindingStatus, error) {
	b, err := m.get(ctx, `id`, bindingID)
	if err != nil {
		return eidcred.BindingStatus{}, err
	}
	st, err := m.state(ctx, b.EnrollmentID, b.Revoked)
	return eidcred.BindingStatus{BindingID: b.ID, State: st}, err
}

// Credential checks the phone's signed request and, for an active binding,
// issues a credential.
func (m *Module) Credential(ctx context.Context, bindingID string, signedRequest []byte) ([]byte, error) {
	b, err := m.get(ctx, `id`, bindingID)
	if err != nil {
		return nil, err
	}
	holder, err := eidcred.ParseHolderKey(b.Holder)
	if err != nil {
		return nil, fmt.Errorf("binding: stored key: %w", err)
	}
	r, err := eidcred.VerifyRequest(signedRequest, holder)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrProof, err)
	}
	now := m.o.Clock.Now()
	if d := now.Sub(time.Unix(r.At, 0)).Abs(); r.BindingID != b.ID || d > m.o.RequestSkew {
		return nil, fmt.Errorf("%w: wrong binding or time", ErrProof)
	}
	st, err := m.state(ctx, b.EnrollmentID, b.Revoked)
	if err != nil {
		return nil, err
	}
	switch st {
	case eidcred.StatePending:
		return nil, ErrPending
	case eidcred.StateRefused, eidcred.StateRevoked:
		return nil, fmt.Errorf("%w (%s)", ErrNotActive, st)
	}
	rc, err := m.o.Receipts.Receipt(ctx, b.EnrollmentID)
	if err != nil {
		return nil, fmt.Errorf("binding: enrollment: %w", err)
	}
	c, err := eidcred.NewCredential(b.EID, rc.MaskedName, holder, now, m.o.Validity)
	if err != nil {
		return nil, err
	}
	out, err := eidcred.Issue(m.signer(), c)
	if err != nil {
		return nil, err
	}
	m.o.Log.Info("binding: credential issued", "binding", b.ID, "credential", hex.EncodeToString(c.ID),
		"not_after", time.Unix(c.NotAfter, 0).UTC())
	return out, nil
}

// Revoke revokes an e-ID number for good: its binding gets no more
// credentials and the revocation list names it.
func (m *Module) Revoke(ctx context.Context, eid string) error {
	res, err := m.db.ExecContext(ctx, m.db.Rebind(`UPDATE binding_bindings SET revoked = ? WHERE eid = ? AND revoked = 0`), m.o.Clock.Now().UnixMilli(), eid)
	if err != nil {
		return fmt.Errorf("binding: revoke: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		if _, err := m.get(ctx, `eid`, eid); err != nil {
			return err
		}
	}
	m.o.Log.Info("binding: an e-ID was revoked") // the number itself stays out of the log
	return nil
}

// RevocationList signs the current list, dated now.
func (m *Module) RevocationList(ctx context.Context) ([]byte, error) {
	rows, err := m.db.QueryContext(ctx, `SELECT eid FROM binding_bindings WHERE revoked <> 0 ORDER BY eid`)
	if err != nil {
		return nil, fmt.Errorf("binding: revocation list: %w", err)
	}
	defer rows.Close()
	l := eidcred.RevocationList{Issued: m.o.Clock.Now().Unix(), EIDs: []string{}}
	for rows.Next() {
		var e string
		if err := rows.Scan(&e); err != nil {
			return nil, fmt.Errorf("binding: revocation list: %w", err)
		}
		l.EIDs = append(l.EIDs, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("binding: revocation list: %w", err)
	}
	return eidcred.SignRevocation(m.signer(), l)
}

// Keys returns the published issuer keys: the signing key and every
// retired key still inside its overlap.
func (m *Module) Keys() eidcred.KeySet {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.o.Clock.Now()
	var out eidcred.KeySet
	for _, k := range m.keys {
		if !k.Until.IsZero() && now.After(k.Until) {
			continue
		}
		out = append(out, eidcred.IssuerKey{KID: k.signer.KID, Public: k.pub, Until: k.Until})
	}
	return out
}

// Rotate makes a new signing key. The old one stays published until the
// last credential it may have signed expires (now + Validity).
func (m *Module) Rotate() (kid []byte, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.o.Clock.Now()
	k, err := newKey(now)
	if err != nil {
		return nil, err
	}
	keys := append([]issuerKey{}, m.keys...)
	keys[len(keys)-1].Until = now.Add(m.o.Validity).UTC()
	keys = append(keys, k)
	if err := saveKeys(m.o.DataDir, keys); err != nil {
		return nil, err
	}
	m.keys = keys
	m.o.Log.Info("binding: issuer key rotated", "kid", hex.EncodeToString(k.signer.KID))
	return k.signer.KID, nil
}

func (m *Module) signer() eidcred.Signer {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.keys[len(m.keys)-1].signer
}

func (m *Module) byEnrollment(ctx context.Context, id string) (Binding, error) {
	return m.get(ctx, `enrollment_id`, id)
}

func (m *Module) get(ctx context.Context, col, v string) (Binding, error) {
	var b Binding
	var created, revoked int64
	err := m.db.QueryRowContext(ctx, m.db.Rebind(`SELECT id, enrollment_id, holder, eid, created, revoked FROM binding_bindings WHERE `+col+` = ?`), v).
		Scan(&b.ID, &b.EnrollmentID, &b.Holder, &b.EID, &created, &revoked)
	if errors.Is(err, sql.ErrNoRows) {
		return b, ErrNotFound
	}
	if err != nil {
		return b, fmt.Errorf("binding: lookup: %w", err)
	}
	b.Created, b.Revoked = time.UnixMilli(created).UTC(), revoked != 0
	return b, nil
}

var crockford = base32.NewEncoding("0123456789ABCDEFGHJKMNPQRSTVWXYZ").WithPadding(base32.NoPadding)

// newEID draws an opaque e-ID number: "E" and 80 random bits in Crockford
// base32. It is unrelated to the ID card number.
func newEID() string {
	b := make([]byte, 10)
	rand.Read(b)
	return "E" + crockford.EncodeToString(b)
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
