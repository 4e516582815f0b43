package registry

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"

	"eidkiosk/provisioning/protocol"
)

// PeerCertificate returns the request's verified client certificate, or nil.
// The server's tls.Config verifies a certificate when one is given (see
// pki.ServerTLSConfig); an unverified one is never returned.
func PeerCertificate(req *http.Request) *x509.Certificate {
	if req.TLS == nil || len(req.TLS.VerifiedChains) == 0 || len(req.TLS.VerifiedChains[0]) == 0 {
		return nil
	}
	return req.TLS.VerifiedChains[0][0]
}

// WriteRefusal answers with err as a JSON *protocol.Refusal and a matching
// HTTP status. Other packages (the intake) use it to pass an Authorize
// refusal on to the terminal.
func WriteRefusal(w http.ResponseWriter, err error) {
	var ref *protocol.Refusal
	if !errors.As(err, &ref) {
		ref = &protocol.Refusal{Reason: protocol.ReasonInternal, Message: "the authority failed; try again later"}
	}
	status := http.StatusForbidden
	switch ref.Reason {
	case protocol.ReasonBadRequest, protocol.ReasonBadCSR:
		status = http.StatusBadRequest
	case protocol.ReasonNoCertificate:
		status = http.StatusUnauthorized
	case protocol.ReasonInternal:
		status = http.StatusInternalServerError
	case protocol.ReasonTooMany:
		status = http.StatusTooManyRequests
	}
	writeJSON(w, status, ref)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func decode(w http.ResponseWriter, req *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, req.Body, protocol.MaxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return refuse(protocol.ReasonBadRequest, "the request is not valid JSON for this endpoint: %v", err)
	}
	return nil
}

func remote(req *http.Request) string {
	host, _, err := net.SplitHostPort(req.RemoteAddr)
	if err != nil {
		return req.RemoteAddr
	}
	return host
}

func (r *Registry) handleProvision(w http.ResponseWriter, req *http.Request) {
	var p protocol.ProvisionRequest
	if err := decode(w, req, &p); err != nil {
		WriteRefusal(w, err)
		return
	}
	b, err := r.Provision(req.Context(), p, remote(req))
	if err != nil {
		WriteRefusal(w, err)
		return
	}
	writeJSON(w, http.StatusOK, b)
}

// authorized runs Authorize on the request's client certificate.
func (r *Registry) authorized(w http.ResponseWriter, req *http.Request) (id, station string, ok bool) {
	id, station, err := r.Authorize(req.Context(), PeerCertificate(req))
	if err != nil {
		WriteRefusal(w, err)
		return "", "", false
	}
	return id, station, true
}

func (r *Registry) handleRenew(w http.ResponseWriter, req *http.Request) {
	var p protocol.RenewRequest
	if err := decode(w, req, &p); err != nil {
		WriteRefusal(w, err)
		return
	}
	b, err := r.Renew(req.Context(), PeerCertificate(req), p.CSR)
	if err != nil {
		WriteRefusal(w, err)
		return
	}
	r.opts.Log.Info("registry: certificate renewed", "device", b.DeviceID)
	writeJSON(w, http.StatusOK, b)
}

func (r *Registry) handlePing(w http.ResponseWriter, req *http.Request) {
	id, station, ok := r.authorized(w, req)
	if !ok {
		return
	}
	r.seen(req.Context(), id)
	writeJSON(w, http.StatusOK, protocol.Ping{DeviceID: id, Station: station, Time: r.now().UTC()})
}

// seen records that a device called in; a failure is only logged.
func (r *Registry) seen(ctx context.Context, id string) {
	if _, err := r.db.ExecContext(ctx, r.q(`UPDATE registry_devices SET last_seen_ms = ? WHERE id = ?`), ms(r.now()), id); err != nil {
		r.opts.Log.Warn("registry: last seen", "device", id, "err", err)
	}
}

func (r *Registry) handleSelfTest(w http.ResponseWriter, req *http.Request) {
	id, station, ok := r.authorized(w, req)
	if !ok {
		return
	}
	var rep protocol.SelfTestReport
	if err := decode(w, req, &rep); err != nil {
		WriteRefusal(w, err)
		return
	}
	if err := r.StoreSelfTest(req.Context(), id, station, rep); err != nil {
		WriteRefusal(w, r.internal(err))
		return
	}
	writeJSON(w, http.StatusOK, protocol.Ack{OK: true})
}

// StoreSelfTest records a terminal's self-test report.
func (r *Registry) StoreSelfTest(ctx context.Context, id, station string, rep protocol.SelfTestReport) error {
	body, err := json.Marshal(rep)
	if err != nil {
		return err
	}
	failed := 0
	for _, c := range rep.Checks {
		if c.Status == "fail" {
			failed++
		}
	}
	passed := 0
	if rep.Passed {
		passed = 1
	}
	now := r.now()
	tx, err := r.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, r.q(`INSERT INTO registry_selftests (device_id, at_ms, passed, report) VALUES (?, ?, ?, ?)`), id, ms(now), passed, string(body)); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, r.q(`UPDATE registry_devices SET selftest_ms = ?, selftest_passed = ?, last_seen_ms = ?, software = CASE WHEN ? = '' THEN software ELSE ? END WHERE id = ?`),
		ms(now), passed, ms(now), rep.Software, rep.Software, id); err != nil {
		return err
	}
	if err := r.audit(ctx, tx, "device:"+id, "selftest", id, station, fmt.Sprintf("%d checks, %d failed", len(rep.Checks), failed)); err != nil {
		return err
	}
	return tx.Commit()
}

// SelfTests returns a device's stored reports, newest first.
func (r *Registry) SelfTests(ctx context.Context, deviceID string, limit int) ([]protocol.SelfTestReport, error) {
	rows, err := r.db.QueryContext(ctx, r.q(`SELECT report FROM registry_selftests WHERE device_id = ? ORDER BY id DESC LIMIT ?`), deviceID, limit)
	if err != nil {
		return nil, fmt.Errorf("registry: self-tests: %w", err)
	}
	defer rows.Close()
	var out []protocol.SelfTestReport
	for rows.Next() {
		var s string
		var rep protocol.SelfTestReport
		if err := rows.Scan(&s); err != nil {
			return nil, fmt.Errorf("registry: self-tests: %w", err)
		}
		if err := json.Unmarshal([]byte(s), &rep); err != nil {
			return nil, fmt.Errorf("registry: self-test of %s: %w", deviceID, err)
		}
		out = append(out, rep)
	}
	return out, rows.Err()
}

func (r *Registry) handleDeprovision(w http.ResponseWriter, req *http.Request) {
	id, _, ok := r.authorized(w, req)
	if !ok {
		return
	}
	if err := r.Deprovision(req.Context(), id, "device:"+id); err != nil {
		WriteRefusal(w, err)
		return
	}
	writeJSON(w, http.StatusOK, protocol.Ack{OK: true})
}
