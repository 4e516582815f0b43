package idcard

import (
	"fmt"
	"time"

	"eidkiosk/internal/pii"
)

// Field is one labelled value of a card for a technician's display.
type Field struct {
	Key   string `json:"key"`   // stable name, e.g. "number"
	Label string `json:"label"` // English label
	Value string `json:"value"` // masked unless revealed
}

// Fields lists the card's fields for display. Personal values are masked
// (name "张*", number "4401**********123X", birth date year only, address
// first character) unless reveal is set, which a technician asks for
// explicitly. Fields the card's kind does not carry are left out.
func (c Card) Fields(reveal bool) []Field {
	name := func(t pii.Text) string {
		if reveal {
			return t.Reveal()
		}
		return pii.Mask(t.Reveal(), 0)
	}
	id := func(t pii.Text) string {
		if reveal {
			return t.Reveal()
		}
		return pii.MaskID(t.Reveal())
	}
	date := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.Format("2006-01-02")
	}
	birth := date(c.BirthDate)
	if !reveal && birth != "" {
		birth = birth[:4] + "-**-**"
	}
	to := date(c.ValidTo)
	if c.NoExpiry {
		to = "长期 (no expiry)"
	}
	var fs []Field
	add := func(key, label, v string) {
		if v != "" {
			fs = append(fs, Field{key, label, v})
		}
	}
	add("kind", "Kind", c.Kind.String())
	add("name", "Name", name(c.Name))
	add("name_en", "English name", name(c.NameEN))
	if c.Gender != "" {
		add("gender", "Gender", c.Gender+" "+GenderName(c.Gender, "zh")+" / "+GenderName(c.Gender, "en"))
	}
	if c.Ethnic != "" {
		add("ethnic", "Ethnic group", c.Ethnic+" "+EthnicName(c.Ethnic))
	}
	if c.Nationality != "" {
		add("nationality", "Nationality", c.Nationality+" "+NationalityName(c.Nationality, "zh")+" / "+NationalityName(c.Nationality, "en"))
	}
	add("birth", "Birth date", birth)
	add("address", "Address", name(c.Address))
	for i, a := range c.NewAddresses {
		add(fmt.Sprintf("new_address_%d", i+1), fmt.Sprintf("New address %d", i+1), name(a))
	}
	add("number", "Number", id(c.Number))
	add("pass_number", "Pass number", id(c.PassNumber))
	add("issue_count", "Issue count", c.IssueCount)
	add("renewal_count", "Renewal count", c.RenewalCount)
	add("card_version", "Card version", c.CardVersion)
	add("authority", "Authority", c.Authority)
	add("valid_from", "Valid from", date(c.ValidFrom))
	add("valid_to", "Valid to", to)
	add("prev_link", "Previous card link", c.PrevLink)
	add("photo", "Photo", fmt.Sprintf("%d bytes WLT", len(c.Photo)))
	if len(c.Fingerprint) > 0 {
		add("fingerprint", "Fingerprint", fmt.Sprintf("%d bytes (%d templates)", len(c.Fingerprint), len(c.Fingerprint)/512))
	}
	return fs
}
