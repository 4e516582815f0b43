package intake_test

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"eidkiosk/authority/intake"
	"eidkiosk/authority/intake/intaketest"
	"eidkiosk/enroll"
	"eidkiosk/internal/pgtest"
	"eidkiosk/kiosk/submit"
)

const kiosks = 16

// BenchmarkIntakeThroughput: 16 simulated kiosks, each with its own device
// certificate and TLS 1.3 connection, post sealed packages to the intake on
// loopback with SQLite (WAL, synchronous=FULL). Beside it, the baseline: the
// same clients posting the same bytes to a handler that only reads them.
// Reported: enrollments/s, baseline requests/s, and their ratio. Sealing is
// done before the timer starts.
func BenchmarkIntakeThroughput(b *testing.B) {
	dir := b.TempDir()
	benchThroughput(b, dir, dir, 1)
}

// BenchmarkIntakeThroughputPostgres is the same on PostgreSQL (runs with
// the throw-away cluster of internal/pgtest, or EIDKIOSK_PG_URL).
func BenchmarkIntakeThroughputPostgres(b *testing.B) {
	benchThroughput(b, b.TempDir(), pgtest.Database(b), 1)
}

// BenchmarkIntakeReplicasPostgres is BenchmarkIntakeThroughputPostgres
// with one and with two intake replicas (each its own Intake, pool, group
// commit and TLS listener; the same keys) on one database, the 16 kiosks
// spread over them. The replicas share this process and its 2 cores with
// the clients and PostgreSQL, so the wall-clock ratio shows only that the
// replicas do not serialize on each other (locks, conflicts): the
// per-enrollment CPU split (cpu-µs in the replicas and clients, db-cpu-µs
// in PostgreSQL) says how far replicas on their own machines would scale
// before the database's cores become the bottleneck.
func BenchmarkIntakeReplicasPostgres(b *testing.B) {
	for _, n := range []int{1, 2} {
		b.Run(fmt.Sprintf("replicas=%d", n), func(b *testing.B) {
			benchThroughput(b, b.TempDir(), pgtest.Database(b), n)
		})
	}
}

func benchThroughput(b *testing.B, dir, dsn string, replicas int) {
	pki, err := intaketest.NewPKI()
	if err != nil {
		b.Fatal(err)
	}
	reg := intaketest.NewRegistry()
	var urls []string
	var auth *intaketest.Authority
	for range replicas {
		// The same dir: every replica loads the keys the first created.
		auth = intaketest.NewAuthorityDB(b, dir, dsn, pki, reg, intake.Options{MaxConcurrent: 64})
		urls = append(urls, auth.Serve(b, "127.0.0.1:0"))
	}
	base := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusCreated)
		w.Write(make([]byte, 200))
	}))
	base.TLS = pki.ServerTLS()
	base.StartTLS()
	defer base.Close()

	type kiosk struct {
		dev    *intaketest.Device
		sealer *enroll.Sealer
		client *http.Client
	}
	ks := make([]kiosk, kiosks)
	for i := range ks {
		d, err := pki.NewDevice(fmt.Sprintf("KT-B%02d", i), fmt.Sprintf("NS-PSB-%03d", i))
		if err != nil {
			b.Fatal(err)
		}
		reg.Add(d)
		s, err := d.Sealer(auth.Intake.IntakePublicKey())
		if err != nil {
			b.Fatal(err)
		}
		ks[i] = kiosk{dev: d, sealer: s, client: &http.Client{Transport: &http.Transport{TLSClientConfig: d.ClientTLS(pki)}}}
	}
	// Seal b.N packages spread over the kiosks (outside the timer).
	type job struct {
		k   int
		id  string
		pkg []byte
	}
	rnd := rand.New(rand.NewPCG(1, 2))
	p, ev, err := intaketest.Portrait()
	if err != nil {
		b.Fatal(err)
	}
	jobs := make([]job, b.N)
	for i := range jobs {
		k := i % kiosks
		e, _ := intaketest.EnrollmentWith(intaketest.CitizenName, intaketest.RandomNumber(rnd), p, ev, rnd)
		q := &memQueue{}
		rc, err := submit.NewSubmitter(ks[k].sealer, q, "bench", nil, nil).Submit(b.Context(), e)
		if err != nil {
			b.Fatal(err)
		}
		jobs[i] = job{k: k, id: rc.EnrollmentID, pkg: q.pkgs[rc.EnrollmentID]}
	}
	perKiosk := make([][]job, kiosks)
	for _, j := range jobs {
		perKiosk[j.k] = append(perKiosk[j.k], j)
	}
	run := func(targets []string, want int) time.Duration {
		var wg sync.WaitGroup
		var failed atomic.Value
		start := time.Now()
		for k := range kiosks {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for _, j := range perKiosk[k] {
					req, _ := http.NewRequest("POST", targets[k%len(targets)]+intake.PathEnrollments+j.id, bytes.NewReader(j.pkg))
					req.Header.Set("Idempotency-Key", j.id)
					resp, err := ks[k].client.Do(req)
					if err != nil {
						failed.Store(err.Error())
						return
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != want {
						failed.Store(fmt.Sprintf("status %d", resp.StatusCode))
						return
					}
				}
			}()
		}
		wg.Wait()
		if f := failed.Load(); f != nil {
			b.Fatal(f)
		}
		return time.Since(start)
	}
	b.ResetTimer()
	tBase := run([]string{base.URL}, http.StatusCreated)
	cpu0, srv0 := cpuTime(), serverCPU(b, dsn)
	tIntake := run(urls, http.StatusCreated)
	cpu := cpuTime() - cpu0
	srv := serverCPU(b, dsn) - srv0
	b.StopTimer()
	if n, _ := auth.Intake.Count(b.Context()); n != b.N {
		b.Fatalf("stored %d of %d", n, b.N)
	}
	b.ReportMetric(float64(b.N)/tIntake.Seconds(), "enrollments/s")
	b.ReportMetric(float64(b.N)/tBase.Seconds(), "baseline-req/s")
	b.ReportMetric(tIntake.Seconds()/tBase.Seconds(), "intake/baseline")
	// CPU time of the whole process (server and the 16 clients) per
	// enrollment, and the rate two idle cores would sustain at that cost:
	// on a shared machine the wall-clock rate above says more about the
	// neighbours than about the intake.
	// With PostgreSQL the database works in other processes: its CPU is
	// added (db-cpu-µs/enrollment) so that both stores are compared on the
	// whole work (0 for SQLite, whose work is inside cpu-µs).
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/enrollment")
	b.ReportMetric(float64(srv.Microseconds())/float64(b.N), "db-cpu-µs/enrollment")
	b.ReportMetric(2/((cpu+srv).Seconds()/float64(b.N)), "cpu-bound-2core/s")
}

// serverCPU is the CPU time of the PostgreSQL cluster behind dsn so far
// (0 for SQLite, or for a server of EIDKIOSK_PG_URL, which is not ours to
// measure).
func serverCPU(b *testing.B, dsn string) time.Duration {
	c := pgtest.Shared()
	if c == nil || !strings.HasPrefix(dsn, "postgres") {
		return 0
	}
	t, err := c.CPUTime()
	if err != nil {
		b.Fatal(err)
	}
	return t
}

// cpuTime is the process's user+system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkSubmitDirect is the intake without HTTP and TLS: 16 goroutines
// call Submit on pre-sealed packages (SQLite, group commit). Beside it, the
// baseline: the same goroutines only parsing and verifying the packages
// (no decryption, no storage). Reported: enrollments/s and the ratio.
func BenchmarkSubmitDirect(b *testing.B) {
	pki, _ := intaketest.NewPKI()
	reg := intaketest.NewRegistry()
	auth := intaketest.NewAuthority(b, b.TempDir(), pki, reg, intake.Options{})
	devs := make([]*intaketest.Device, kiosks)
	sealers := make([]*enroll.Sealer, kiosks)
	for i := range devs {
		devs[i], _ = pki.NewDevice(fmt.Sprintf("KT-D%02d", i), "NS-PSB-001")
		reg.Add(devs[i])
		sealers[i], _ = devs[i].Sealer(auth.Intake.IntakePublicKey())
	}
	rnd := rand.New(rand.NewPCG(1, 2))
	p, ev, _ := intaketest.Portrait()
	type job struct {
		k   int
		id  string
		pkg []byte
	}
	per := make([][]job, kiosks)
	for i := 0; i < b.N; i++ {
		k := i % kiosks
		e, _ := intaketest.EnrollmentWith(intaketest.CitizenName, intaketest.RandomNumber(rnd), p, ev, rnd)
		q := &memQueue{}
		rc, err := submit.NewSubmitter(sealers[k], q, "bench", nil, nil).Submit(b.Context(), e)
		if err != nil {
			b.Fatal(err)
		}
		per[k] = append(per[k], job{k, rc.EnrollmentID, q.pkgs[rc.EnrollmentID]})
	}
	run := func(f func(j job) error) time.Duration {
		var wg sync.WaitGroup
		start := time.Now()
		for k := range kiosks {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for _, j := range per[k] {
					if err := f(j); err != nil {
						b.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		return time.Since(start)
	}
	b.ResetTimer()
	tBase := run(func(j job) error {
		s, err := enroll.Parse(j.pkg)
		if err != nil {
			return err
		}
		if err := s.Check(); err != nil {
			return err
		}
		return s.Verify(devs[j.k].Cert)
	})
	cpu0 := cpuTime()
	tIn := run(func(j job) error {
		_, err := auth.Intake.Submit(b.Context(), j.pkg, j.id, devs[j.k].Cert, intake.FromUplink)
		return err
	})
	cpu := cpuTime() - cpu0
	b.StopTimer()
	b.ReportMetric(float64(b.N)/tIn.Seconds(), "enrollments/s")
	b.ReportMetric(float64(b.N)/tBase.Seconds(), "baseline-verify/s")
	b.ReportMetric(tIn.Seconds()/tBase.Seconds(), "submit/baseline")
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/enrollment")
	b.ReportMetric(2/(cpu.Seconds()/float64(b.N)), "cpu-bound-2core/s")
}
