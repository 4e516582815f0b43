package submit

import (
	"time"

	"eidkiosk/enroll"
	"eidkiosk/kiosk/session"
)

// millis is t as Unix milliseconds; 0 for the zero time.
func millis(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func clone(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append([]byte(nil), b...)
}

// Record copies a visit's result into a new enrollment record. Every byte
// slice is copied, so the record holds no reference into e; the caller wipes
// the record when done. The card's dates travel as the chip wrote them
// (idcard.Card's …Text fields), not re-formatted from the parsed times.
func Record(e *session.Enrollment, id, deviceID, stationID, software string, sealed time.Time, bindingCode string) *enroll.Record {
	c := &e.Card
	validTo := c.ValidToText
	if c.NoExpiry {
		validTo = "" // the record says NoExpiry instead of 长期
	}
	r := &enroll.Record{
		Version: enroll.SchemaVersion, EnrollmentID: id, DeviceID: deviceID, StationID: stationID,
		Software: software, Started: millis(e.Started), Finished: millis(e.Finished), Sealed: millis(sealed),
		Card: enroll.Card{
			Kind: c.Kind, Name: c.Name.Reveal(), NameEN: c.NameEN.Reveal(), Gender: c.Gender,
			Ethnic: c.Ethnic, Nationality: c.Nationality, BirthDate: c.BirthDateText,
			Address: c.Address.Reveal(), Number: c.Number.Reveal(), Authority: c.Authority,
			ValidFrom: c.ValidFromText, ValidTo: validTo, NoExpiry: c.NoExpiry,
			PassNumber: c.PassNumber.Reveal(), IssueCount: c.IssueCount, RenewalCount: c.RenewalCount,
			CardVersion: c.CardVersion, PrevLink: c.PrevLink,
			Text: clone(c.Text), Photo: clone(c.Photo),
		},
		Portrait: clone(e.Face.Portrait),
		Consent: enroll.Consent{TextVersion: e.Consent.TextVersion, Language: e.Consent.Language,
			At: millis(e.Consent.At)},
		BindingCode: bindingCode,
	}
	for _, m := range e.Face.Quality {
		r.Quality = append(r.Quality, enroll.Metric{Name: m.Name, Value: m.Value, Threshold: m.Threshold, Pass: m.Pass})
	}
	l := &e.Face.Liveness
	r.Liveness = enroll.Liveness{
		Live: l.Live, Challenges: append([]string(nil), l.Challenges...),
		Passed: append([]bool(nil), l.Passed...), Nonce: clone(l.Nonce),
	}
	if len(l.Scores) > 0 {
		r.Liveness.Scores = make(map[string]float64, len(l.Scores))
		for k, v := range l.Scores {
			r.Liveness.Scores[k] = v
		}
	}
	for _, ev := range l.Evidence {
		r.Liveness.Evidence = append(r.Liveness.Evidence, clone(ev))
	}
	for _, d := range l.Timings {
		r.Liveness.TimingsMS = append(r.Liveness.TimingsMS, d.Milliseconds())
	}
	for _, f := range e.Face.MatchFrames {
		r.MatchFrames = append(r.MatchFrames, clone(f))
	}
	if m := e.Face.Match; m != nil {
		r.FaceMatch = &enroll.FaceMatch{Decision: string(m.Decision), Score: m.Score, Frames: m.Frames}
	}
	return r
}
