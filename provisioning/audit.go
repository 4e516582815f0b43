package provisioning

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// AuditEntry is one line of the terminal's provisioning audit log. It holds
// device and station identifiers, fingerprints and reasons; never anything
// about citizens.
type AuditEntry struct {
	Time   time.Time `json:"time"`
	Event  string    `json:"event"`
	Detail string    `json:"detail,omitempty"`
}

// appendAudit appends an entry to STATE/identity/audit.log and fsyncs it.
func appendAudit(dir string, now time.Time, event, detail string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("provisioning: audit: %w", err)
	}
	b, _ := json.Marshal(AuditEntry{Time: now.UTC(), Event: event, Detail: detail})
	f, err := os.OpenFile(filepath.Join(dir, AuditFile), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("provisioning: audit: %w", err)
	}
	defer f.Close()
	if _, err := f.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("provisioning: audit: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("provisioning: audit: %w", err)
	}
	return nil
}

// ReadAudit returns the terminal's audit log.
func ReadAudit(stateDir string) ([]AuditEntry, error) {
	b, err := os.ReadFile(filepath.Join(stateDir, IdentityDir, AuditFile))
	if err != nil {
		return nil, fmt.Errorf("provisioning: audit: %w", err)
	}
	var out []AuditEntry
	dec := json.NewDecoder(bytes.NewReader(b))
	for dec.More() {
		var e AuditEntry
		if err := dec.Decode(&e); err != nil {
			return out, fmt.Errorf("provisioning: audit: %w", err)
		}
		out = append(out, e)
	}
	return out, nil
}
