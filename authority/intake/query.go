package intake

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"eidkiosk/enroll"
	"eidkiosk/internal/pii"
)

// ErrNotFound is returned for an unknown enrollment.
var ErrNotFound = errors.New("intake: no such enrollment")

type status struct {
	enroll.StatusBody
	device string
}

// Status returns an enrollment's state by ID: its status from Reviews
// ("stored" without), its flags' kinds and its receipt. The terminal's
// status query gets the same without the flags.
func (in *Intake) Status(ctx context.Context, id string) (enroll.StatusBody, error) {
	st, err := in.status(ctx, id)
	return st.StatusBody, err
}

func (in *Intake) status(ctx context.Context, id string) (status, error) {
	var st status
	var received int64
	err := in.db.QueryRowContext(ctx, in.db.Rebind(`SELECT id, short, device_id, received, receipt FROM intake_enrollments WHERE id = ?`), id).
		Scan(&st.EnrollmentID, &st.Short, &st.device, &received, &st.Receipt)
	if errors.Is(err, errNoRows) {
		return st, ErrNotFound
	}
	if err != nil {
		return st, fmt.Errorf("intake: status: %w", err)
	}
	st.State = "stored"
	if in.reviews != nil {
		if st.State, err = in.reviews.Status(ctx, id); err != nil {
			return st, fmt.Errorf("intake: status: %w", err)
		}
	}
	st.Received = time.UnixMilli(received).UTC().Format(time.RFC3339Nano)
	st.Flags, err = in.flags(ctx, id)
	return st, err
}

func (in *Intake) flags(ctx context.Context, id string) ([]string, error) {
	fs, err := in.flagList(ctx, id)
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.Kind
	}
	return out, err
}

// Summary is one line of `authority enrollments list`. Name and Number are
// masked unless revealed.
type Summary struct {
	Seq          int64
	EnrollmentID string
	Short        string
	DeviceID     string
	StationID    string
	Received     time.Time
	Source       string
	Size         int64
	Flags        []string
	Name         string
	Number       string
}

// ListOptions filter List.
type ListOptions struct {
	Station string // only this station; "" for all
	Flagged bool   // only enrollments with flags
	Limit   int    // newest first; 0 means 100
	Reveal  bool   // show names and numbers in clear (operators with the right)
}

// List returns stored enrollments, newest first, opening each package to
// show the masked name and number.
func (in *Intake) List(ctx context.Context, o ListOptions) ([]Summary, error) {
	if o.Limit <= 0 {
		o.Limit = 100
	}
	q := `SELECT seq, id, short, device_id, station_id, received, source, size, package FROM intake_enrollments`
	var where []string
	var args []any
	if o.Station != "" {
		where = append(where, "station_id = ?")
		args = append(args, o.Station)
	}
	if o.Flagged {
		where = append(where, "id IN (SELECT enrollment_id FROM intake_flags)")
	}
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY seq DESC LIMIT ?"
	args = append(args, o.Limit)
	rows, err := in.db.QueryContext(ctx, in.db.Rebind(q), args...)
	if err != nil {
		return nil, fmt.Errorf("intake: list: %w", err)
	}
	var out []Summary
	var pkgs [][]byte
	for rows.Next() {
		var s Summary
		var received int64
		var pkg []byte
		if err := rows.Scan(&s.Seq, &s.EnrollmentID, &s.Short, &s.DeviceID, &s.StationID, &received, &s.Source, &s.Size, &pkg); err != nil {
			rows.Close()
			return nil, fmt.Errorf("intake: list: %w", err)
		}
		s.Received = time.UnixMilli(received)
		out = append(out, s)
		pkgs = append(pkgs, pkg)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("intake: list: %w", err)
	}
	for i := range out {
		if out[i].Flags, err = in.flags(ctx, out[i].EnrollmentID); err != nil {
			return nil, err
		}
		rec, err := in.open(pkgs[i])
		if err != nil {
			out[i].Name, out[i].Number = "?", "?"
			continue
		}
		out[i].Name, out[i].Number = maskName(rec.Card, o.Reveal), maskNumber(rec.Card.Number, o.Reveal)
		rec.Wipe()
	}
	return out, nil
}

// Detail is `authority enrollments show`: the stored row, its flags and the
// opened record, personal fields masked unless revealed.
type Detail struct {
	Summary
	Created    time.Time
	Record     *enroll.Record // personal fields masked unless revealed; photos kept as sizes only
	PortraitSz int
	PhotoSz    int
	Evidence   int
	Receipt    []byte
	// FlagDetails are "kind: detail" per flag (the face check's score
	// among them): for officers, never for the citizen.
	FlagDetails []string
}

// Show returns one enrollment by ID or short number.
func (in *Intake) Show(ctx context.Context, idOrShort string, reveal bool) (*Detail, error) {
	d := &Detail{}
	var received, created int64
	var pkg []byte
	err := in.db.QueryRowContext(ctx, in.db.Rebind(`SELECT seq, id, short, device_id, station_id, received, created, source, size, package, receipt
		FROM intake_enrollments WHERE id = ? OR short = ? ORDER BY seq LIMIT 1`), idOrShort, strings.ToUpper(idOrShort)).
		Scan(&d.Seq, &d.EnrollmentID, &d.Short, &d.DeviceID, &d.StationID, &received, &created, &d.Source, &d.Size, &pkg, &d.Receipt)
	if errors.Is(err, errNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("intake: show: %w", err)
	}
	d.Received, d.Created = time.UnixMilli(received), time.UnixMilli(created)
	fs, err := in.flagList(ctx, d.EnrollmentID)
	if err != nil {
		return nil, err
	}
	d.Flags = []string{}
	for _, f := range fs {
		d.Flags = append(d.Flags, f.Kind)
		d.FlagDetails = append(d.FlagDetails, f.Kind+": "+f.Detail)
	}
	rec, err := in.open(pkg)
	if err != nil {
		return nil, fmt.Errorf("intake: show: %w", err)
	}
	d.Name, d.Number = maskName(rec.Card, reveal), maskNumber(rec.Card.Number, reveal)
	d.PortraitSz, d.PhotoSz, d.Evidence = len(rec.Portrait), len(rec.Card.Photo), len(rec.Liveness.Evidence)
	if !reveal {
		c := &rec.Card
		c.Name, c.NameEN = d.Name, pii.Mask(c.NameEN, 0)
		c.Number = d.Number
		c.Address = pii.Mask(c.Address, 0)
		c.PassNumber = pii.MaskID(c.PassNumber)
		if len(c.BirthDate) == 8 {
			c.BirthDate = c.BirthDate[:4] + "****"
		}
		rec.BindingCode = "********"
		pii.Zero(c.Text)
		pii.Zero(c.Photo)
		pii.Zero(rec.Portrait)
		for _, e := range rec.Liveness.Evidence {
			pii.Zero(e)
		}
		for _, f := range rec.MatchFrames {
			pii.Zero(f)
		}
		c.Text, c.Photo, rec.Portrait, rec.Liveness.Evidence, rec.MatchFrames = nil, nil, nil, nil, nil
	}
	d.Record = rec
	return d, nil
}

// Record opens a stored enrollment completely (for tests and exports to the
// Ministry's systems). The caller wipes it.
func (in *Intake) Record(ctx context.Context, id string) (*enroll.Record, error) {
	var pkg []byte
	err := in.db.QueryRowContext(ctx, in.db.Rebind(`SELECT package FROM intake_enrollments WHERE id = ?`), id).Scan(&pkg)
	if errors.Is(err, errNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("intake: record: %w", err)
	}
	return in.open(pkg)
}

// Count returns how many enrollments are stored.
func (in *Intake) Count(ctx context.Context) (int, error) {
	var n int
	err := in.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM intake_enrollments`).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("intake: count: %w", err)
	}
	return n, nil
}

// IDs returns the stored enrollment IDs in the order they were stored.
func (in *Intake) IDs(ctx context.Context) ([]string, error) {
	rows, err := in.db.QueryContext(ctx, `SELECT id FROM intake_enrollments ORDER BY seq`)
	if err != nil {
		return nil, fmt.Errorf("intake: ids: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("intake: ids: %w", err)
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

func (in *Intake) open(pkg []byte) (*enroll.Record, error) {
	s, err := enroll.Parse(pkg)
	if err != nil {
		return nil, err
	}
	return s.Open(in.keys.intake)
}

func maskName(c enroll.Card, reveal bool) string {
	n := c.Name
	if n == "" {
		n = c.NameEN
	}
	if reveal {
		return n
	}
	return pii.Mask(n, 0)
}

func maskNumber(n string, reveal bool) string {
	if reveal {
		return n
	}
	return pii.MaskID(n)
}

// sortedKeys is used by the CLI to print score maps in order.
func sortedKeys(m map[string]float64) []string {
	k := make([]string, 0, len(m))
	for s := range m {
		k = append(k, s)
	}
	sort.Strings(k)
	return k
}

// flagList returns an enrollment's flags, ordered by kind.
func (in *Intake) flagList(ctx context.Context, id string) ([]Flag, error) {
	rows, err := in.db.QueryContext(ctx, in.db.Rebind(`SELECT kind, detail FROM intake_flags WHERE enrollment_id = ? ORDER BY kind`), id)
	if err != nil {
		return nil, fmt.Errorf("intake: flags: %w", err)
	}
	defer rows.Close()
	out := []Flag{}
	for rows.Next() {
		var f Flag
		if err := rows.Scan(&f.Kind, &f.Detail); err != nil {
			return nil, fmt.Errorf("intake: flags: %w", err)
		}
		out = append(out, f)
	}
	return out, rows.Err()
}
