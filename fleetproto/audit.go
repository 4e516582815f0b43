package fleetproto

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// The terminal's audit log (kiosk/audit writes it, authority/fleet keeps a
// copy) is a hash chain: every entry carries the SHA-256 of the one before
// it, and every so often a checkpoint entry carries the device key's
// signature over its own hash, which covers every entry before it. An entry
// edited, deleted or moved breaks the chain at that point; an edit that
// rewrites the chain after it breaks the next checkpoint's signature.
//
// Entries hold events and non-personal fields only (outcomes, versions,
// counts, reasons): never a name, an ID number or an image.

// EventCheckpoint is the event of a signed checkpoint entry.
const EventCheckpoint = "checkpoint"

// AuditEntry is one entry of a terminal's audit log, one JSON line on disk.
type AuditEntry struct {
	Seq    uint64            `json:"seq"` // 1 for a chain's first entry, then +1
	Time   time.Time         `json:"time"`
	Event  string            `json:"event"`
	Fields map[string]string `json:"fields,omitempty"`
	// Prev is the hex SHA-256 Hash of the entry before ("" for Seq 1).
	Prev string `json:"prev"`
	// Key (checkpoints only) is KeyID of the key that signed Sig, an
	// ASN.1 ECDSA (or Ed25519) signature over the 32 bytes of Hash.
	Key  string `json:"key,omitempty"`
	Hash string `json:"hash"`
	Sig  []byte `json:"sig,omitempty"`
}

// hashed is what an entry's hash covers: everything but Hash and Sig, with
// the time in one spelling.
type hashed struct {
	Seq    uint64            `json:"seq"`
	Time   string            `json:"time"`
	Event  string            `json:"event"`
	Fields map[string]string `json:"fields,omitempty"`
	Prev   string            `json:"prev"`
	Key    string            `json:"key,omitempty"`
}

// ComputeHash returns the hex SHA-256 the entry's Hash must hold.
func (e AuditEntry) ComputeHash() string {
	b, _ := json.Marshal(hashed{Seq: e.Seq, Time: e.Time.UTC().Format(time.RFC3339Nano), Event: e.Event,
		Fields: e.Fields, Prev: e.Prev, Key: e.Key}) // a struct of strings and a map always marshals
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// KeyID names a public key in a checkpoint: the hex SHA-256 of its DER
// SubjectPublicKeyInfo.
func KeyID(pub crypto.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("fleetproto: audit key: %w", err)
	}
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:]), nil
}

// Errors of audit verification; each is wrapped with the entry's sequence
// number.
var (
	// ErrAuditAltered: an entry's hash does not match its content.
	ErrAuditAltered = errors.New("audit: entry altered (hash does not match)")
	// ErrAuditBroken: an entry does not follow the one before (deleted,
	// inserted or reordered entries, or a gap).
	ErrAuditBroken = errors.New("audit: chain broken")
	// ErrAuditSignature: a checkpoint's signature does not verify, or its
	// key is not the terminal's.
	ErrAuditSignature = errors.New("audit: checkpoint signature invalid")
)

// AuditKeys finds a terminal's public key by KeyID; nil when unknown.
type AuditKeys func(keyID string) crypto.PublicKey

// AuditSummary is what verifying a run of entries found.
type AuditSummary struct {
	First, Last uint64 // sequence numbers of the first and last entry
	Entries     int
	Checkpoints int
	// Signed is the last entry covered by a verified checkpoint (0: none);
	// the entries after it are chained but not yet signed.
	Signed uint64
	// Unverified counts checkpoints not checked because keys was nil.
	Unverified int
}

// CheckEntry checks that e's hash matches its content and, for a
// checkpoint, that its signature verifies with a key keys knows (keys nil:
// signatures not checked).
func CheckEntry(e AuditEntry, keys AuditKeys) error {
	if e.ComputeHash() != e.Hash {
		return fmt.Errorf("entry %d: %w", e.Seq, ErrAuditAltered)
	}
	if e.Event != EventCheckpoint {
		if e.Key != "" || len(e.Sig) > 0 {
			return fmt.Errorf("entry %d: a signature on an entry that is not a checkpoint: %w", e.Seq, ErrAuditSignature)
		}
		return nil
	}
	if keys == nil {
		return nil
	}
	pub := keys(e.Key)
	if pub == nil {
		return fmt.Errorf("checkpoint %d: signed by key %.16s…, not the terminal's: %w", e.Seq, e.Key, ErrAuditSignature)
	}
	digest, err := hex.DecodeString(e.Hash)
	if err != nil {
		return fmt.Errorf("entry %d: %w", e.Seq, ErrAuditAltered)
	}
	ok := false
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		ok = ecdsa.VerifyASN1(k, digest, e.Sig)
	case ed25519.PublicKey:
		ok = ed25519.Verify(k, digest, e.Sig)
	}
	if !ok {
		return fmt.Errorf("checkpoint %d: %w", e.Seq, ErrAuditSignature)
	}
	return nil
}

// CheckLink checks that e directly follows prev (nil: e must start a chain,
// Seq 1 and no Prev).
func CheckLink(prev *AuditEntry, e AuditEntry) error {
	if prev == nil {
		if e.Seq != 1 || e.Prev != "" {
			return fmt.Errorf("entry %d: the chain does not start at entry 1: %w", e.Seq, ErrAuditBroken)
		}
		return nil
	}
	if e.Seq != prev.Seq+1 {
		return fmt.Errorf("entry %d follows entry %d: %w", e.Seq, prev.Seq, ErrAuditBroken)
	}
	if e.Prev != prev.Hash {
		return fmt.Errorf("entry %d does not chain to entry %d: %w", e.Seq, prev.Seq, ErrAuditBroken)
	}
	return nil
}

// VerifyAudit verifies entries in order: each one's hash, its link to the
// one before (after, or the chain's start when after is nil and
// fromStart), and every checkpoint's signature. With fromStart false and
// after nil, the first entry is taken as it is (a log whose older files
// were rotated away). It stops at the first fault.
func VerifyAudit(entries []AuditEntry, after *AuditEntry, fromStart bool, keys AuditKeys) (AuditSummary, error) {
	var s AuditSummary
	prev := after
	for i := range entries {
		e := entries[i]
		if prev != nil || fromStart {
			if err := CheckLink(prev, e); err != nil {
				return s, err
			}
		}
		if err := CheckEntry(e, keys); err != nil {
			return s, err
		}
		if s.Entries == 0 {
			s.First = e.Seq
		}
		s.Entries++
		s.Last = e.Seq
		if e.Event == EventCheckpoint {
			s.Checkpoints++
			if keys == nil {
				s.Unverified++
			} else {
				s.Signed = e.Seq
			}
		}
		prev = &entries[i]
	}
	return s, nil
}

// AuditBatch rides on a Report: the terminal's head and the entries after
// the last one the authority acknowledged (AuditAck), oldest first.
type AuditBatch struct {
	Head     uint64       `json:"head"` // the terminal's last entry
	HeadHash string       `json:"head_hash"`
	Entries  []AuditEntry `json:"entries,omitempty"`
}

// AuditAck answers an AuditBatch: the last entry the authority holds for
// this terminal (the terminal sends from Have+1 next time) and, when its
// copy does not verify, the alert it recorded (a gap or a fork).
type AuditAck struct {
	Have  uint64 `json:"have"`
	Alert string `json:"alert,omitempty"`
}

// MaxAuditBatch is the most entries a terminal sends in one heartbeat.
const MaxAuditBatch = 100

// String is the entry as one line for people: number, time, event, its
// fields in order of name, and "signed" on a checkpoint.
func (e AuditEntry) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%6d  %s  %s", e.Seq, e.Time.UTC().Format("2006-01-02 15:04:05Z"), e.Event)
	for _, k := range slices.Sorted(maps.Keys(e.Fields)) {
		fmt.Fprintf(&b, "  %s=%q", k, e.Fields[k])
	}
	if e.Event == EventCheckpoint {
		fmt.Fprintf(&b, "  signed by key %.16s…", e.Key)
	}
	return b.String()
}

// String summarises a verification for people.
func (s AuditSummary) String() string {
	if s.Entries == 0 {
		return "no entries"
	}
	out := fmt.Sprintf("entries %d to %d (%d), %d checkpoints", s.First, s.Last, s.Entries, s.Checkpoints)
	switch {
	case s.Unverified > 0:
		out += ", signatures not checked (no key)"
	case s.Signed == 0:
		out += ", none signed yet"
	case s.Signed == s.Last:
		out += ", all signed"
	default:
		out += fmt.Sprintf(", signed up to %d (%d after it wait for the next checkpoint)", s.Signed, s.Last-s.Signed)
	}
	return out
}
