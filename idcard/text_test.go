package idcard

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"
)

// refBlock is the synthetic 张三 text block of reference §10.
const refBlock = `
20 5F 09 4E 20 00 20 00 20 00 20 00 20 00 20 00 20 00 20 00 20 00 20 00 20 00 20 00 20 00 31 00
30 00 31 00 31 00 39 00 39 00 30 00 30 00 33 00 30 00 37 00 17 53 AC 4E 02 5E 1C 4E CE 57 3A 53
3A 79 8B 4F EF 8D 31 00 F7 53 20 00 20 00 20 00 20 00 20 00 20 00 20 00 20 00 20 00 20 00 20 00
20 00 20 00 20 00 20 00 20 00 20 00 20 00 20 00 20 00 20 00 20 00 20 00 20 00 39 00 39 00 30 00
31 00 30 00 31 00 31 00 39 00 39 00 30 00 30 00 33 00 30 00 37 00 31 00 32 00 33 00 37 00 17 53
AC 4E 02 5E 6C 51 89 5B 40 5C 1C 4E CE 57 06 52 40 5C 20 00 20 00 20 00 20 00 20 00 32 00 30 00
32 00 30 00 30 00 31 00 30 00 31 00 32 00 30 00 34 00 30 00 30 00 31 00 30 00 31 00 20 00 20 00
20 00 20 00 20 00 20 00 20 00 20 00 20 00 20 00 20 00 20 00 20 00 20 00 20 00 20 00 20 00 20 00`

func RefBlock(t testing.TB) []byte {
	b, err := hex.DecodeString(strings.Join(strings.Fields(refBlock), ""))
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != TextLen {
		t.Fatalf("reference block is %d bytes", len(b))
	}
	return b
}

func TestDecodeReferenceCard(t *testing.T) {
	c, err := DecodeText(RefBlock(t))
	if err != nil {
		t.Fatal(err)
	}
	day := func(s string) time.Time { d, _ := time.ParseInLocation("20060102", s, CST); return d }
	if c.Kind != KindResident || c.Name.Reveal() != "张三" || c.Gender != "1" || c.Ethnic != "01" ||
		!c.BirthDate.Equal(day("19900307")) || c.Address.Reveal() != "北京市东城区示例路1号" ||
		c.Number.Reveal() != "990101199003071237" || c.Authority != "北京市公安局东城分局" ||
		!c.ValidFrom.Equal(day("20200101")) || !c.ValidTo.Equal(day("20400101")) || c.NoExpiry {
		t.Fatalf("decoded %#v", []any{c.Kind, c.Name.Reveal(), c.Gender, c.Ethnic, c.BirthDate, c.Address.Reveal(),
			c.Number.Reveal(), c.Authority, c.ValidFrom, c.ValidTo})
	}
	if c.BirthDateText != "19900307" || c.ValidFromText != "20200101" || c.ValidToText != "20400101" {
		t.Fatalf("chip dates %q %q %q", c.BirthDateText, c.ValidFromText, c.ValidToText)
	}
	built := Card{BirthDate: c.BirthDate, ValidFrom: c.ValidFrom, ValidTo: c.ValidTo}.WithChipDates()
	if built.BirthDateText != c.BirthDateText || built.ValidFromText != c.ValidFromText || built.ValidToText != c.ValidToText {
		t.Fatalf("WithChipDates gives %q %q %q", built.BirthDateText, built.ValidFromText, built.ValidToText)
	}
	enc, err := EncodeText(c)
	if err != nil || !bytes.Equal(enc, RefBlock(t)) {
		t.Fatalf("EncodeText does not give back the reference block: %v", err)
	}
	if GenderName(c.Gender, "zh-CN") != "男" || GenderName("2", "en") != "female" || EthnicName(c.Ethnic) != "汉" ||
		EthnicName("57") != "57" {
		t.Error("code names")
	}
}

func TestCheckChar(t *testing.T) {
	for n, want := range map[string]byte{
		"11010519491231002": 'X', // the standard's sample (reference §9)
		"99010119900307123": '7', // reference §10
		"93158619800101002": '8', // 2023 permanent residence specimen (§6 b2)
	} {
		if got, err := CheckChar(n); err != nil || got != want {
			t.Errorf("%s: %c %v, want %c", n, got, err, want)
		}
	}
	if _, err := CheckChar("1234"); err == nil {
		t.Error("short input accepted")
	}
	if ValidNumber18("990101199003071238") || !ValidNumber18("11010519491231002X") {
		t.Error("ValidNumber18")
	}
}

func TestDecodeRejectsInvalid(t *testing.T) {
	mutate := func(f func(b []byte)) []byte { b := RefBlock(t); f(b); return b }
	put := func(fl field, s string) func([]byte) { return func(b []byte) { fl.put(b, s) } }
	cases := map[string][]byte{
		"check digit":  mutate(put(rNumber, "990101199003071238")),
		"birth in id":  mutate(put(rBirth, "19900308")),
		"birth date":   mutate(put(rBirth, "19901307")),
		"gender":       mutate(put(rGender, "3")),
		"ethnic":       mutate(put(rEthnic, "x")),
		"valid to":     mutate(put(rTo, "2040")),
		"to < from":    mutate(put(rTo, "20100101")),
		"empty name":   mutate(put(rName, "")),
		"marker":       mutate(func(b []byte) { b[markerOff] = 'Q' }),
		"J prefix":     mutate(func(b []byte) { b[markerOff] = 'J' }),
		"short number": mutate(put(rNumber, "99010119900307")),
	}
	for name, b := range cases {
		_, err := DecodeText(b)
		var ie *InvalidError
		if !errors.Is(err, ErrInvalid) || !errors.As(err, &ie) {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if strings.Contains(err.Error(), "9901011990") || strings.Contains(err.Error(), "张") {
			t.Errorf("%s: error leaks personal data: %v", name, err)
		}
	}
	if _, err := DecodeText(make([]byte, 10)); !errors.Is(err, ErrInvalid) {
		t.Errorf("short block: %v", err)
	}
}

func TestLongTermAndNames(t *testing.T) {
	b := RefBlock(t)
	rTo.put(b, "长期")
	if got := b[204:212]; !bytes.Equal(got, []byte{0x7F, 0x95, 0x1F, 0x67, 0x20, 0x00, 0x20, 0x00}) {
		t.Fatalf("长期 encodes as % X, reference says 7F 95 1F 67 + spaces", got)
	}
	c, err := DecodeText(b)
	if err != nil || !c.NoExpiry || !c.ValidTo.IsZero() || c.ValidToText != LongTerm ||
		c.Expired(time.Date(2090, 1, 1, 0, 0, 0, 0, CST)) {
		t.Fatalf("长期: %v %v", err, c.NoExpiry)
	}
	if NationalityName("GBR", "en") != "United Kingdom" || NationalityName("GBR", "zh-CN") != "英国" ||
		NationalityName("ZZZ", "en") != "ZZZ" {
		t.Errorf("nationality names: %q %q", NationalityName("GBR", "en"), NationalityName("GBR", "zh-CN"))
	}
}

func TestParseDate(t *testing.T) {
	d, err := ParseDate("20240229")
	if err != nil || !d.Equal(time.Date(2024, 2, 29, 0, 0, 0, 0, CST)) || DateText(d) != "20240229" {
		t.Fatalf("20240229: %v %v", d, err)
	}
	for _, s := range []string{"20230229", "2024022", "2024-02-2", "", LongTerm} {
		if _, err := ParseDate(s); !errors.Is(err, ErrInvalid) {
			t.Errorf("%q: %v", s, err)
		}
	}
	if DateText(time.Time{}) != "" {
		t.Error("zero time has a date text")
	}
}
