package idcard

import (
	"encoding/binary"
	"fmt"
	"strings"
	"time"
	"unicode/utf16"

	"eidkiosk/internal/pii"
)

// TextLen is the size of the text block; PhotoLen the size of the WLT photo.
const (
	TextLen  = 256
	PhotoLen = 1024
	// markerOff is where the card-type marker sits in the text block.
	markerOff = 248
)

// CST is China Standard Time; card dates are calendar days there.
var CST = time.FixedZone("CST", 8*3600)

// LongTerm is 长期 (no expiry) as written in the valid-to field.
const LongTerm = "长期"

// field is one fixed-width UCS-2LE field of a text block.
type field struct {
	off, n int
	name   string
}

// Layouts (reference §6).
var (
	// (a) resident, also (c) J for offsets 0..219
	rName      = field{0, 30, "name"}
	rGender    = field{30, 2, "gender"}
	rEthnic    = field{32, 4, "ethnic group"}
	rBirth     = field{36, 16, "birth date"}
	rAddress   = field{52, 70, "address"}
	rNumber    = field{122, 36, "number"}
	rAuthority = field{158, 30, "issuing authority"}
	rFrom      = field{188, 16, "valid from"}
	rTo        = field{204, 16, "valid to"}
	jPass      = field{220, 18, "pass number"}
	jIssues    = field{238, 4, "issue count"}
	// (b1) I, foreigner 2017
	iNameEN    = field{0, 120, "English name"}
	iGender    = field{120, 2, "gender"}
	iNumber    = field{122, 30, "card number"}
	iNation    = field{152, 6, "nationality"}
	iName      = field{158, 30, "Chinese name"}
	iFrom      = field{188, 16, "valid from"}
	iTo        = field{204, 16, "valid to"}
	iBirth     = field{220, 16, "birth date"}
	iVersion   = field{236, 4, "card version"}
	iAuthority = field{240, 8, "accepting authority"}
	// (b2) Y, foreigner 2023
	yName    = field{0, 30, "Chinese name"}
	yGender  = field{30, 2, "gender"}
	yRenewal = field{32, 4, "renewal count"}
	yBirth   = field{36, 16, "birth date"}
	yNameEN1 = field{52, 70, "English name"}
	yNumber  = field{122, 36, "card number"}
	yFrom    = field{188, 16, "valid from"}
	yTo      = field{204, 16, "valid to"}
	yNameEN2 = field{220, 22, "English name (continued)"}
	yNation  = field{242, 6, "nationality"}
	yPrev    = field{250, 6, "previous card link"}
)

func (f field) get(b []byte) string {
	u := make([]uint16, f.n/2)
	for i := range u {
		u[i] = binary.LittleEndian.Uint16(b[f.off+2*i:])
	}
	return strings.TrimRight(string(utf16.Decode(u)), " \x00")
}

// put writes s into the field, right-padded with spaces; it refuses a value
// that does not fit.
func (f field) put(b []byte, s string) error {
	u := utf16.Encode([]rune(s))
	if len(u) > f.n/2 {
		return fmt.Errorf("idcard: %s: %d characters do not fit in %d", f.name, len(u), f.n/2)
	}
	for i := 0; i < f.n/2; i++ {
		c := uint16(' ')
		if i < len(u) {
			c = u[i]
		}
		binary.LittleEndian.PutUint16(b[f.off+2*i:], c)
	}
	return nil
}

// kindOf reads the card-type marker at byte 248.
func kindOf(text []byte) Kind {
	switch binary.LittleEndian.Uint16(text[markerOff:]) {
	case ' ':
		return KindResident
	case 'I':
		return KindForeign2017
	case 'Y':
		return KindForeign2023
	case 'J':
		return KindHKMOTW
	}
	return KindUnknown
}

// DecodeText decodes a 256-byte text block, choosing the layout by the
// card-type marker, and validates it: dates, gender code, and the 18-digit
// number's ISO 7064 MOD 11-2 check character. A validation failure is an
// *InvalidError (errors.Is ErrInvalid) whose message names the field but
// never its value. The returned Card's Text is a copy of text.
func DecodeText(text []byte) (Card, error) {
	if len(text) != TextLen {
		return Card{}, invalid("text block", "%d bytes, want %d", len(text), TextLen)
	}
	c := Card{Kind: kindOf(text)}
	var err error
	switch c.Kind {
	case KindResident, KindHKMOTW:
		err = decodeResident(&c, text)
	case KindForeign2017:
		err = decodeForeign2017(&c, text)
	case KindForeign2023:
		err = decodeForeign2023(&c, text)
	default:
		m := binary.LittleEndian.Uint16(text[markerOff:])
		err = invalid("card type marker", "unknown marker U+%04X at byte %d", m, markerOff)
	}
	if err != nil {
		return Card{}, err
	}
	c.Text = append([]byte(nil), text...)
	return c, nil
}

func decodeResident(c *Card, b []byte) error {
	c.Name = pii.Text(rName.get(b))
	c.Gender = rGender.get(b)
	c.Address = pii.Text(rAddress.get(b))
	c.Number = pii.Text(rNumber.get(b))
	c.Authority = rAuthority.get(b)
	if c.Kind == KindResident {
		c.Ethnic = rEthnic.get(b)
		if len(c.Ethnic) != 2 || !digits(c.Ethnic) {
			return invalid(rEthnic.name, "not a two-digit GB 3304 code")
		}
	} else {
		c.PassNumber = pii.Text(jPass.get(b))
		c.IssueCount = jIssues.get(b)
	}
	if c.Name == "" {
		return invalid(rName.name, "empty")
	}
	if err := checkGender(c.Gender, rGender); err != nil {
		return err
	}
	var err error
	if c.BirthDate, err = date(rBirth, b); err != nil {
		return err
	}
	c.BirthDateText = rBirth.get(b)
	if err := checkNumber18(c.Number.Reveal(), rNumber, c.BirthDate); err != nil {
		return err
	}
	if c.Kind == KindHKMOTW {
		switch c.Number.Reveal()[:2] {
		case "81", "82", "83":
		default:
			return invalid(rNumber.name, "a Hong Kong/Macau/Taiwan permit number starts 81, 82 or 83")
		}
	}
	return validity(c, b, rFrom, rTo)
}

func decodeForeign2017(c *Card, b []byte) error {
	c.NameEN = pii.Text(iNameEN.get(b))
	c.Gender = iGender.get(b)
	c.Number = pii.Text(iNumber.get(b))
	c.Nationality = iNation.get(b)
	c.Name = pii.Text(iName.get(b))
	c.CardVersion = iVersion.get(b)
	c.Authority = iAuthority.get(b)
	if c.NameEN == "" {
		return invalid(iNameEN.name, "empty")
	}
	if err := checkGender(c.Gender, iGender); err != nil {
		return err
	}
	if n := c.Number.Reveal(); len(n) != 15 || !letters(n[:3]) || !digits(n[3:]) {
		return invalid(iNumber.name, "not 3 letters and 12 digits")
	}
	if err := checkNation(c.Nationality, iNation); err != nil {
		return err
	}
	var err error
	if c.BirthDate, err = date(iBirth, b); err != nil {
		return err
	}
	c.BirthDateText = iBirth.get(b)
	return validity(c, b, iFrom, iTo)
}

func decodeForeign2023(c *Card, b []byte) error {
	c.Name = pii.Text(yName.get(b))
	c.Gender = yGender.get(b)
	c.RenewalCount = yRenewal.get(b)
	// The English name continues at 220 without padding between the parts
	// when it is longer than 35 characters.
	en1 := yNameEN1.get(b)
	if en2 := yNameEN2.get(b); en2 != "" {
		en1 = rawField(yNameEN1, b) + en2
	}
	c.NameEN = pii.Text(en1)
	c.Number = pii.Text(yNumber.get(b))
	c.Nationality = yNation.get(b)
	c.PrevLink = yPrev.get(b)
	if c.NameEN == "" {
		return invalid(yNameEN1.name, "empty")
	}
	if err := checkGender(c.Gender, yGender); err != nil {
		return err
	}
	if err := checkNation(c.Nationality, yNation); err != nil {
		return err
	}
	var err error
	if c.BirthDate, err = date(yBirth, b); err != nil {
		return err
	}
	c.BirthDateText = yBirth.get(b)
	if err := checkNumber18(c.Number.Reveal(), yNumber, c.BirthDate); err != nil {
		return err
	}
	if c.Number.Reveal()[0] != '9' {
		return invalid(yNumber.name, "a 2023 permanent residence card number starts with 9")
	}
	return validity(c, b, yFrom, yTo)
}

// rawField is the field without trimming (for names split over two fields).
func rawField(f field, b []byte) string {
	u := make([]uint16, f.n/2)
	for i := range u {
		u[i] = binary.LittleEndian.Uint16(b[f.off+2*i:])
	}
	return string(utf16.Decode(u))
}

func validity(c *Card, b []byte, from, to field) error {
	var err error
	if c.ValidFrom, err = date(from, b); err != nil {
		return err
	}
	c.ValidFromText = from.get(b)
	c.ValidToText = to.get(b)
	if strings.HasPrefix(c.ValidToText, LongTerm) {
		c.NoExpiry = true
		return nil
	}
	if c.ValidTo, err = date(to, b); err != nil {
		return err
	}
	if c.ValidTo.Before(c.ValidFrom) {
		return invalid(to.name, "before valid-from")
	}
	return nil
}

func date(f field, b []byte) (time.Time, error) {
	t, err := ParseDate(f.get(b))
	if err != nil {
		return time.Time{}, invalid(f.name, "%s", err.(*InvalidError).Reason)
	}
	return t, nil
}

// ParseDate parses a card date as the chip writes it, "YYYYMMDD", as that
// calendar day in China Standard Time. A malformed date is an *InvalidError
// (errors.Is ErrInvalid) that does not quote the value.
func ParseDate(s string) (time.Time, error) {
	if len(s) != 8 || !digits(s) {
		return time.Time{}, invalid("date", "not a YYYYMMDD date")
	}
	t, err := time.ParseInLocation("20060102", s, CST)
	if err != nil {
		return time.Time{}, invalid("date", "not a calendar date")
	}
	return t, nil
}

// DateText is t as the chip writes a date, "YYYYMMDD" in China Standard
// Time; "" for the zero time.
func DateText(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(CST).Format("20060102")
}

func checkGender(g string, f field) error {
	switch g {
	case "0", "1", "2", "9":
		return nil
	}
	return invalid(f.name, "not a GB/T 2261.1 code (0, 1, 2, 9)")
}

func checkNation(n string, f field) error {
	if len(n) != 3 || !letters(n) {
		return invalid(f.name, "not a 3-letter GB/T 2659 code")
	}
	return nil
}

// checkNumber18 validates an 18-character GB 11643 number: 17 digits, the
// ISO 7064 MOD 11-2 check character, and (when birth is set) the birth date
// in positions 7–14.
func checkNumber18(n string, f field, birth time.Time) error {
	if len(n) != 18 || !digits(n[:17]) {
		return invalid(f.name, "not 17 digits and a check character")
	}
	want, _ := CheckChar(n[:17])
	if n[17] != want {
		return invalid(f.name, "check character does not match (ISO 7064 MOD 11-2)")
	}
	if !birth.IsZero() && n[6:14] != birth.Format("20060102") {
		return invalid(f.name, "birth date in the number differs from the birth date field")
	}
	return nil
}

// CheckChar returns the ISO 7064 MOD 11-2 check character of the first 17
// digits of a GB 11643 number (reference §9).
func CheckChar(first17 string) (byte, error) {
	if len(first17) != 17 || !digits(first17) {
		return 0, fmt.Errorf("idcard: check character needs 17 digits")
	}
	weights := [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
	s := 0
	for i, w := range weights {
		s += int(first17[i]-'0') * w
	}
	return "10X98765432"[s%11], nil
}

// ValidNumber18 reports whether n is 17 digits followed by its check character.
func ValidNumber18(n string) bool {
	return checkNumber18(n, rNumber, time.Time{}) == nil
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func letters(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 'A' || s[i] > 'Z' {
			return false
		}
	}
	return true
}

// DecodeAddress reads one 70-byte appended-address record (30 03); "" for
// an empty record.
func DecodeAddress(rec []byte) (string, error) {
	if len(rec) != addressLen {
		return "", invalid("new address", "%d bytes, want %d", len(rec), addressLen)
	}
	return (field{0, addressLen, "new address"}).get(rec), nil
}

// addressLen is the size of one appended-address record.
const addressLen = 70

// EncodeAddress lays out one 70-byte appended-address record (30 03).
func EncodeAddress(a string) ([]byte, error) {
	b := make([]byte, addressLen)
	if err := (field{0, addressLen, "new address"}).put(b, a); err != nil {
		return nil, err
	}
	return b, nil
}

// EncodeText lays a Card out as a 256-byte text block in the layout of its
// Kind (the inverse of DecodeText). The simulator and tests use it; it
// refuses values that do not fit their fields but does not validate them, so
// that invalid cards can be built on purpose.
func EncodeText(c Card) ([]byte, error) {
	b := make([]byte, TextLen)
	for i := 0; i < TextLen; i += 2 {
		b[i] = ' '
	}
	day := DateText
	to := day(c.ValidTo)
	if c.NoExpiry {
		to = LongTerm
	}
	type fv struct {
		f field
		v string
	}
	var fs []fv
	var marker uint16
	switch c.Kind {
	case KindResident, KindHKMOTW:
		fs = []fv{{rName, c.Name.Reveal()}, {rGender, c.Gender}, {rBirth, day(c.BirthDate)},
			{rAddress, c.Address.Reveal()}, {rNumber, c.Number.Reveal()}, {rAuthority, c.Authority},
			{rFrom, day(c.ValidFrom)}, {rTo, to}}
		marker = ' '
		if c.Kind == KindResident {
			fs = append(fs, fv{rEthnic, c.Ethnic})
		} else {
			fs = append(fs, fv{jPass, c.PassNumber.Reveal()}, fv{jIssues, c.IssueCount})
			marker = 'J'
		}
	case KindForeign2017:
		fs = []fv{{iNameEN, c.NameEN.Reveal()}, {iGender, c.Gender}, {iNumber, c.Number.Reveal()},
			{iNation, c.Nationality}, {iName, c.Name.Reveal()}, {iFrom, day(c.ValidFrom)}, {iTo, to},
			{iBirth, day(c.BirthDate)}, {iVersion, c.CardVersion}, {iAuthority, c.Authority}}
		marker = 'I'
	case KindForeign2023:
		en := []rune(c.NameEN.Reveal())
		en1, en2 := en, []rune(nil)
		if len(en) > yNameEN1.n/2 {
			en1, en2 = en[:yNameEN1.n/2], en[yNameEN1.n/2:]
		}
		fs = []fv{{yName, c.Name.Reveal()}, {yGender, c.Gender}, {yRenewal, c.RenewalCount},
			{yBirth, day(c.BirthDate)}, {yNameEN1, string(en1)}, {yNameEN2, string(en2)},
			{yNumber, c.Number.Reveal()}, {yFrom, day(c.ValidFrom)}, {yTo, to},
			{yNation, c.Nationality}, {yPrev, c.PrevLink}}
		marker = 'Y'
	default:
		return nil, fmt.Errorf("idcard: cannot encode a card of kind %s", c.Kind)
	}
	for _, x := range fs {
		if err := x.f.put(b, x.v); err != nil {
			return nil, err
		}
	}
	binary.LittleEndian.PutUint16(b[markerOff:], marker)
	return b, nil
}
