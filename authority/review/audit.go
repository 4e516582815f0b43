package review

import (
	"context"
	"fmt"
	"time"
)

// AuditEntry is one officer action.
type AuditEntry struct {
	At           time.Time `json:"at"`
	Actor        string    `json:"actor"`
	Action       string    `json:"action"`
	EnrollmentID string    `json:"enrollment_id,omitempty"`
	Detail       string    `json:"detail,omitempty"`
}

// audit writes one entry. detail must not carry personal data.
func (s *Store) audit(ctx context.Context, x execer, actor, action, id, detail string) error {
	_, err := x.ExecContext(ctx, s.db.Rebind(`INSERT INTO review_audit (at, actor, action, enrollment_id, detail) VALUES (?, ?, ?, ?, ?)`),
		s.now().UnixMilli(), actor, action, id, detail)
	if err != nil {
		return fmt.Errorf("review: audit: %w", err)
	}
	return nil
}

// Audit returns the newest limit entries (0: 100), newest first.
func (s *Store) Audit(ctx context.Context, limit int) ([]AuditEntry, error) {
	if limit <= 0 {
		limit = 100
	}
	rows, err := s.db.QueryContext(ctx, s.db.Rebind(`SELECT at, actor, action, enrollment_id, detail FROM review_audit ORDER BY seq DESC LIMIT ?`), limit)
	if err != nil {
		return nil, fmt.Errorf("review: audit: %w", err)
	}
	defer rows.Close()
	var out []AuditEntry
	for rows.Next() {
		var e AuditEntry
		var at int64
		if err := rows.Scan(&at, &e.Actor, &e.Action, &e.EnrollmentID, &e.Detail); err != nil {
			return nil, fmt.Errorf("review: audit: %w", err)
		}
		e.At = time.UnixMilli(at).UTC()
		out = append(out, e)
	}
	return out, rows.Err()
}
