package intake

import (
	"bytes"
	"time"

	"github.com/google/uuid"

	"eidkiosk/enroll"
)

// Card kinds as in drivers/idcard (not imported: the authority has no drivers).
const (
	kindResident    = 1
	kindForeign2017 = 2
	kindForeign2023 = 3
	kindHKMOTW      = 4
)

// mod112Weights are 2^(17-i) mod 11 for the 17 body digits (ISO 7064 MOD 11-2).
var mod112Weights = [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}

// CheckDigit returns the ISO 7064 MOD 11-2 check character ('0'-'9' or 'X')
// of the first 17 digits of an 18-character ID number, and false when those
// are not 17 digits.
func CheckDigit(number string) (byte, bool) {
	if len(number) < 17 {
		return 0, false
	}
	sum := 0
	for i := 0; i < 17; i++ {
		c := number[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		sum += int(c-'0') * mod112Weights[i]
	}
	return "10X98765432"[sum%11], true
}

// ValidNumber reports whether an 18-character GB 11643 number is well formed
// and carries the right check digit.
func ValidNumber(number string) bool {
	if len(number) != 18 {
		return false
	}
	want, ok := CheckDigit(number)
	return ok && number[17] == want
}

// validate checks a record against the schema; it returns a refusal with a
// non-personal message.
func validate(r *enroll.Record, now time.Time) *Refusal {
	if r.Version != enroll.SchemaVersion {
		return refuse(CodeSchema, "schema version %d is not supported", r.Version)
	}
	if u, err := uuid.Parse(r.EnrollmentID); err != nil || u.Version() != 7 || u.String() != r.EnrollmentID {
		return refuse(CodeSchema, "enrollment id is not a canonical UUIDv7")
	}
	if r.DeviceID == "" || r.StationID == "" {
		return refuse(CodeSchema, "device or station id missing")
	}
	if r.Started <= 0 || r.Finished < r.Started || r.Sealed < r.Finished-1000 {
		return refuse(CodeSchema, "visit times are missing or out of order")
	}
	if r.Sealed > now.Add(24*time.Hour).UnixMilli() {
		return refuse(CodeSchema, "sealed in the future")
	}
	c := &r.Card
	if c.Kind < kindResident || c.Kind > kindHKMOTW {
		return refuse(CodeSchema, "card kind %d is unknown", c.Kind)
	}
	if c.Name == "" && c.NameEN == "" {
		return refuse(CodeSchema, "card name missing")
	}
	if c.Number == "" {
		return refuse(CodeSchema, "card number missing")
	}
	if _, err := time.Parse("20060102", c.BirthDate); err != nil {
		return refuse(CodeSchema, "birth date is not YYYYMMDD")
	}
	if len(c.Text) != 256 {
		return refuse(CodeSchema, "raw text block is %d bytes, not 256", len(c.Text))
	}
	if len(c.Photo) != 0 && len(c.Photo) != 1024 {
		return refuse(CodeSchema, "raw photo is %d bytes, not 1024", len(c.Photo))
	}
	if !isJPEG(r.Portrait) {
		return refuse(CodeSchema, "portrait is not a JPEG")
	}
	if len(r.Portrait) > 200<<10 {
		return refuse(CodeSchema, "portrait of %d bytes is too large", len(r.Portrait))
	}
	for _, e := range r.Liveness.Evidence {
		if !isJPEG(e) {
			return refuse(CodeSchema, "liveness evidence frame is not a JPEG")
		}
	}
	if len(r.MatchFrames) > maxMatchFrames {
		return refuse(CodeSchema, "%d match frames, at most %d", len(r.MatchFrames), maxMatchFrames)
	}
	for _, f := range r.MatchFrames {
		if !isJPEG(f) {
			return refuse(CodeSchema, "a match frame is not a JPEG")
		}
	}
	if len(r.Liveness.Challenges) != len(r.Liveness.Passed) {
		return refuse(CodeSchema, "liveness challenges and results differ in number")
	}
	if r.Consent.TextVersion == "" || r.Consent.At <= 0 || (r.Consent.Language != "zh-CN" && r.Consent.Language != "en") {
		return refuse(CodeSchema, "consent incomplete")
	}
	if len(r.BindingCode) != 20 {
		return refuse(CodeSchema, "binding code missing")
	}
	if c.Kind == kindResident || c.Kind == kindHKMOTW {
		if len(c.Number) != 18 {
			return refuse(CodeSchema, "ID number is not 18 characters")
		}
		if !ValidNumber(c.Number) {
			return refuse(CodeCheckDigit, "ID number check digit is wrong")
		}
	}
	return nil
}

func isJPEG(b []byte) bool { return len(b) > 4 && bytes.HasPrefix(b, []byte{0xFF, 0xD8, 0xFF}) }
