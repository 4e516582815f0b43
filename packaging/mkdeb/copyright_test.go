package main

import (
	"strings"
	"testing"
)

// A module whose licence file holds MIT and the whole Apache-2.0 text
// (gozxing, linked into the kiosk) keeps its MIT text in the copyright file
// and refers to Debian's copy of Apache-2.0 instead of repeating it
// (lintian: copyright-file-contains-full-apache-2-license, an error).
func TestCombinedLicenceRefersToCommonLicences(t *testing.T) {
	cache, err := moduleCache()
	if err != nil {
		t.Fatal(err)
	}
	m := &linkedModule{Path: "github.com/makiuchi-d/gozxing", Version: "v0.1.1"}
	if err := findLicence(cache, m); err != nil {
		t.Fatal(err)
	}
	if strings.Join(m.IDs, " and ") != "MIT and Apache-2.0" {
		t.Fatalf("licences %v", m.IDs)
	}
	f := copyrightFile("eidkiosk-kiosk", "City IT <eid@city.example.org>", "2026", []*linkedModule{m})
	for _, want := range []string{"Permission is hereby granted", "/usr/share/common-licenses/Apache-2.0"} {
		if !strings.Contains(f, want) {
			t.Errorf("copyright file lacks %q", want)
		}
	}
	if strings.Contains(f, "TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION") {
		t.Error("the copyright file repeats the whole Apache-2.0 licence")
	}
}
