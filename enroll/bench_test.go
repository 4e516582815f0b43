package enroll_test

import (
	"math/rand/v2"
	"testing"
	"time"

	"eidkiosk/authority/intake/intaketest"
	"eidkiosk/enroll"
)

// BenchmarkSealOpen seals and opens one typical enrollment (48 KB portrait,
// three evidence frames) per iteration, beside the baseline of only encoding
// the record as CBOR. Reported: seal-ns and open-ns per package, the
// baseline's ns, and their ratios to it.
func BenchmarkSealOpen(b *testing.B) {
	s, _, _, open := setup(b)
	rec, err := intaketest.Record(intaketest.CitizenName, intaketest.CitizenNumber, "KT-1", "NS-PSB-001", rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		b.Fatal(err)
	}
	var base, seal, opn time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		t0 := time.Now()
		if _, err := enroll.Marshal(rec); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		pkg, err := s.Seal(rec, 1)
		if err != nil {
			b.Fatal(err)
		}
		t2 := time.Now()
		r, err := open(pkg)
		if err != nil {
			b.Fatal(err)
		}
		t3 := time.Now()
		r.Wipe()
		base, seal, opn = base+t1.Sub(t0), seal+t2.Sub(t1), opn+t3.Sub(t2)
	}
	n := float64(b.N)
	b.ReportMetric(float64(base.Nanoseconds())/n, "baseline-cbor-ns/pkg")
	b.ReportMetric(float64(seal.Nanoseconds())/n, "seal-ns/pkg")
	b.ReportMetric(float64(opn.Nanoseconds())/n, "open-ns/pkg")
	b.ReportMetric(float64(seal)/float64(base), "seal/baseline")
	b.ReportMetric(float64(opn)/float64(base), "open/baseline")
}

// BenchmarkPackageSize reports the size of a sealed package with a typical
// portrait (goal ≤ 100 KB), the portrait's size, and the package's overhead
// over the plain CBOR record (the baseline).
func BenchmarkPackageSize(b *testing.B) {
	s, _, _, _ := setup(b)
	rec, err := intaketest.Record(intaketest.CitizenName, intaketest.CitizenNumber, "KT-1", "NS-PSB-001", rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		b.Fatal(err)
	}
	plain, _ := enroll.Marshal(rec)
	var size int
	for b.Loop() {
		pkg, err := s.Seal(rec, 1)
		if err != nil {
			b.Fatal(err)
		}
		size = len(pkg)
	}
	b.ReportMetric(float64(size), "pkg-bytes")
	b.ReportMetric(float64(len(rec.Portrait)), "portrait-bytes")
	b.ReportMetric(float64(len(plain)), "baseline-record-bytes")
	b.ReportMetric(float64(size-len(plain)), "overhead-bytes")
	b.ReportMetric(float64(size)/float64(len(plain)), "pkg/baseline")
}
