// Package idcard is the model of a Chinese identity document as read from
// its chip: what a card is, not how it is read.
//
//   - Card and Kind: the resident ID card (GA/T 490), the foreigner's
//     permanent residence card in its 2017 'I' and 2023 'Y' layouts, and the
//     Hong Kong/Macau/Taiwan residence permit ('J'). Personal fields are
//     pii.Text and a Card prints redacted.
//   - DecodeText and EncodeText: the 256-byte UCS-2LE text block of each
//     layout, validated (dates, gender code, number formats) with
//     *InvalidError / ErrInvalid naming the field, never its value.
//   - Dates: parsed as calendar days in China Standard Time, with the chip's
//     own "YYYYMMDD" strings kept beside them (ParseDate, DateText); 长期
//     means no expiry (NoExpiry).
//   - The GB 11643 number's ISO 7064 MOD 11-2 check character (CheckChar,
//     ValidNumber18): the one implementation in the tree.
//   - Names of the gender (GB/T 2261.1), ethnic group (GB 3304) and
//     nationality (GB/T 2659) codes; Fields for a masked display.
//   - Event: what a card reader reports (placed, read, failed, removed,
//     reader fault, reader back), so the visit consumes reader events
//     without knowing the driver.
//
// See ../shared/reference/idcard-reader-protocol.md (§6 layouts, §7 codes,
// §9 check character, §10 the reference card).
//
// It does not talk to a reader (drivers/idcard does, over GA 467 frames),
// decode the WLT photo, or decide what a card means for a visit (expiry
// policy, duplicates: kiosk/session). It is pure Go and imports nothing
// below cmd/ but internal/pii, so the authority can use it without linking
// a serial driver.
package idcard
