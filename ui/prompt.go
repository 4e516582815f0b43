package ui

import (
	"strings"
	"time"

	"eidkiosk/kiosk/session"
)

// promptState remembers what was last spoken, so each prompt is said once.
type promptState struct {
	key  string
	at   time.Time
	lang string
}

// guidanceGap is the least time between two spoken guidance changes during
// face capture: the quality gate's hints change faster than anyone can listen.
const guidanceGap = 3 * time.Second

// promptKeys returns the message keys to speak for v, and whether they are
// quality guidance (rate-limited). Attract speaks only when someone stands in
// front of the kiosk; technician mode is silent.
func promptKeys(v session.View) (keys []string, guidance bool) {
	switch v.State {
	case session.Attract:
		if !v.Present {
			return nil, false
		}
		return []string{"attract.title", "attract.hint"}, false
	case session.CardWait:
		return []string{"card_wait.title", "card_wait.hint"}, false
	case session.CardReading:
		return []string{"card_reading.title", "card_reading.hint"}, false
	case session.DataShown:
		return []string{"data.title"}, false
	case session.Consent:
		return []string{"consent.title", "consent.why"}, false
	case session.FaceCapture:
		var ks []string
		if v.Retry && v.Face.Challenge == "" && len(v.Face.Guidance) == 0 {
			ks = append(ks, "face.retry")
		}
		switch {
		case v.Face.Challenge != "":
			return append(ks, v.Face.Challenge), false
		case len(v.Face.Guidance) > 0:
			return append(ks, v.Face.Guidance[0]), true
		}
		return append(ks, "face.title"), false
	case session.Review:
		return []string{"review.title", "review.hint"}, false
	case session.Sealing:
		return []string{"sealing.title", "sealing.hint"}, false
	case session.ReceiptShown:
		k := "receipt.queued"
		if v.Receipt != nil && v.Receipt.Sent {
			k = "receipt.sent"
		}
		return []string{"receipt.title", k, "receipt.take_card"}, false
	case session.Failed, session.Unavailable:
		f := "fault." + v.Fault.String()
		return []string{f + ".title", f + ".what"}, false
	}
	return nil, false
}

// promptText is what the voice says for v, "" for nothing.
func (u *UI) promptText(v session.View) (key, text string, guidance bool) {
	keys, guidance := promptKeys(v)
	if len(keys) == 0 {
		return "", "", false
	}
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		var s string
		if strings.HasPrefix(k, "face.") || strings.HasPrefix(k, "challenge.") {
			s = u.cat.Guidance(v.Lang, k)
		} else if u.cat.Has(v.Lang, k) {
			s = u.cat.T(v.Lang, k)
		} else if strings.HasPrefix(k, "fault.") {
			s = u.cat.T(v.Lang, "fault.unknown"+k[strings.LastIndexByte(k, '.'):])
		}
		s = strings.TrimRight(s, "。.！!，, ")
		if s != "" {
			parts = append(parts, s)
		}
	}
	sep := "。"
	if v.Lang == "en" {
		sep = ". "
	}
	return v.State.String() + "|" + strings.Join(keys, "+"), strings.Join(parts, sep) + strings.TrimSpace(sep), guidance
}

// speak says the prompt of v when it differs from the last one. Fyne thread.
func (u *UI) speak(v session.View) {
	if u.o.Voice == nil {
		return
	}
	key, text, guidance := u.promptText(v)
	if key == "" {
		u.prompt.key = ""
		return
	}
	if key == u.prompt.key && v.Lang == u.prompt.lang {
		return
	}
	now := u.o.Clock.Now()
	if guidance && strings.HasPrefix(u.prompt.key, "face-capture|") && now.Sub(u.prompt.at) < guidanceGap {
		return
	}
	u.prompt = promptState{key: key, at: now, lang: v.Lang}
	u.o.Voice.Say(v.Lang, text)
}
