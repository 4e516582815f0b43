package intake

import (
	"bytes"
	"time"

	"github.com/google/uuid"

	"eidkiosk/enroll"
	"eidkiosk/idcard"
)

// validate checks a record against the schema; it returns a refusal with a
// non-personal message.
func validate(r *enroll.Record, now time.Time) *Refusal {
	if r.Version != enroll.SchemaVersion {
		return refuse(enroll.CodeSchema, "schema version %d is not supported", r.Version)
	}
	if u, err := uuid.Parse(r.EnrollmentID); err != nil || u.Version() != 7 || u.String() != r.EnrollmentID {
		return refuse(enroll.CodeSchema, "enrollment id is not a canonical UUIDv7")
	}
	if r.DeviceID == "" || r.StationID == "" {
		return refuse(enroll.CodeSchema, "device or station id missing")
	}
	if r.Started <= 0 || r.Finished < r.Started || r.Sealed < r.Finished-1000 {
		return refuse(enroll.CodeSchema, "visit times are missing or out of order")
	}
	if r.Sealed > now.Add(24*time.Hour).UnixMilli() {
		return refuse(enroll.CodeSchema, "sealed in the future")
	}
	c := &r.Card
	if !c.Kind.Known() {
		return refuse(enroll.CodeSchema, "card kind %d is unknown", int(c.Kind))
	}
	if c.Name == "" && c.NameEN == "" {
		return refuse(enroll.CodeSchema, "card name missing")
	}
	if c.Number == "" {
		return refuse(enroll.CodeSchema, "card number missing")
	}
	if _, err := idcard.ParseDate(c.BirthDate); err != nil {
		return refuse(enroll.CodeSchema, "birth date is not YYYYMMDD")
	}
	if len(c.Text) != 256 {
		return refuse(enroll.CodeSchema, "raw text block is %d bytes, not 256", len(c.Text))
	}
	if len(c.Photo) != 0 && len(c.Photo) != 1024 {
		return refuse(enroll.CodeSchema, "raw photo is %d bytes, not 1024", len(c.Photo))
	}
	if !isJPEG(r.Portrait) {
		return refuse(enroll.CodeSchema, "portrait is not a JPEG")
	}
	if len(r.Portrait) > 200<<10 {
		return refuse(enroll.CodeSchema, "portrait of %d bytes is too large", len(r.Portrait))
	}
	for _, e := range r.Liveness.Evidence {
		if !isJPEG(e) {
			return refuse(enroll.CodeSchema, "liveness evidence frame is not a JPEG")
		}
	}
	if len(r.MatchFrames) > maxMatchFrames {
		return refuse(enroll.CodeSchema, "%d match frames, at most %d", len(r.MatchFrames), maxMatchFrames)
	}
	for _, f := range r.MatchFrames {
		if !isJPEG(f) {
			return refuse(enroll.CodeSchema, "a match frame is not a JPEG")
		}
	}
	if len(r.Liveness.Challenges) != len(r.Liveness.Passed) {
		return refuse(enroll.CodeSchema, "liveness challenges and results differ in number")
	}
	if r.Consent.TextVersion == "" || r.Consent.At <= 0 || (r.Consent.Language != "zh-CN" && r.Consent.Language != "en") {
		return refuse(enroll.CodeSchema, "consent incomplete")
	}
	if len(r.BindingCode) != 20 {
		return refuse(enroll.CodeSchema, "binding code missing")
	}
	if c.Kind == idcard.KindResident || c.Kind == idcard.KindHKMOTW {
		if len(c.Number) != 18 {
			return refuse(enroll.CodeSchema, "ID number is not 18 characters")
		}
		if !idcard.ValidNumber18(c.Number) {
			return refuse(enroll.CodeCheckDigit, "ID number check digit is wrong")
		}
	}
	return nil
}

func isJPEG(b []byte) bool { return len(b) > 4 && bytes.HasPrefix(b, []byte{0xFF, 0xD8, 0xFF}) }
