// Package health is the kiosk's one model of a health result: which part
// was checked, whether it is fine, what was found, what a technician should
// do about it, and when. The live health of the running kiosk (Board), the
// heartbeat to the authority, the update agent's gate, the self-test and the
// technician screen all speak it, each through a thin adapter beside its own
// types.
//
// It carries no personal data: Detail and Fix are written for a technician
// and must hold states and error codes only (the kiosk scrubs error texts
// before they become a Detail). It does not run checks or decide what
// "healthy" means for a whole kiosk; callers do.
package health

import (
	"encoding/json"
	"errors"
	"sort"
	"sync"
	"time"
)

// Check is one health result.
type Check struct {
	Name   string    `json:"name"`             // the part, e.g. "reader", "camera", "authority"
	OK     bool      `json:"ok"`               // fine (a check that does not apply here is fine)
	Detail string    `json:"detail,omitempty"` // what was found, one line, e.g. "SAM 05.01 answers on /dev/ttyUSB0"
	Fix    string    `json:"fix,omitempty"`    // for a failure: what the technician should do
	At     time.Time `json:"at,omitzero"`      // when it was found; zero: not checked yet
}

// Ran reports whether the check has a result (At is set).
func (c Check) Ran() bool { return !c.At.IsZero() }

// ErrFailed is wrapped by the error of a failed Check.
var ErrFailed = errors.New("health check failed")

// Err is nil for a Check that is OK, else an error naming the part and
// saying what was found, wrapping ErrFailed.
func (c Check) Err() error {
	if c.OK {
		return nil
	}
	msg := c.Name
	if c.Detail != "" {
		msg += ": " + c.Detail
	}
	return &checkError{msg}
}

type checkError struct{ msg string }

func (e *checkError) Error() string { return e.msg }
func (e *checkError) Unwrap() error { return ErrFailed }

// FromErr is the Check of a part whose last operation ended in err (nil:
// fine); detail turns the error into the one line shown (e.g. a scrubber),
// nil uses err.Error().
func FromErr(name string, err error, at time.Time, detail func(string) string) Check {
	c := Check{Name: name, OK: err == nil, At: at}
	if err != nil {
		c.Detail = err.Error()
		if detail != nil {
			c.Detail = detail(c.Detail)
		}
	}
	return c
}

// AllOK reports whether every check is OK.
func AllOK(cs []Check) bool {
	for _, c := range cs {
		if !c.OK {
			return false
		}
	}
	return true
}

// Board holds the latest result of each part. The zero value is ready;
// it is safe for concurrent use.
type Board struct {
	mu sync.Mutex
	m  map[string]Check
}

// Set records c as the latest result of c.Name.
func (b *Board) Set(c Check) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.m == nil {
		b.m = map[string]Check{}
	}
	b.m[c.Name] = c
}

// Get returns the latest result of name; a part never set is OK and not
// yet checked (Ran is false).
func (b *Board) Get(name string) Check {
	b.mu.Lock()
	defer b.mu.Unlock()
	if c, ok := b.m[name]; ok {
		return c
	}
	return Check{Name: name, OK: true}
}

// List returns every recorded result, sorted by name.
func (b *Board) List() []Check {
	b.mu.Lock()
	out := make([]Check, 0, len(b.m))
	for _, c := range b.m {
		out = append(out, c)
	}
	b.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// UnmarshalJSON reads a check as this version writes it, and also as
// terminals before the one health model sent it ({"name","ok","error"}), so
// an authority upgraded before its fleet keeps the failure text of older
// heartbeats.
func (c *Check) UnmarshalJSON(b []byte) error {
	type plain Check
	var v struct {
		plain
		Error string `json:"error"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*c = Check(v.plain)
	if c.Detail == "" {
		c.Detail = v.Error
	}
	return nil
}
