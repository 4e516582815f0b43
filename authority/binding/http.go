package binding

import (
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"

	"eidkiosk/eidcred"
)

// Routes implements authority.Module. The phone's routes need no client
// certificate.
func (m *Module) Routes(mux *http.ServeMux) {
	mux.HandleFunc("POST "+eidcred.PathBindings, m.handleBind)
	mux.HandleFunc("GET "+eidcred.PathBinding, m.handleStatus)
	mux.HandleFunc("POST "+eidcred.PathCredential, m.handleCredential)
	mux.HandleFunc("GET "+eidcred.PathKeys, m.handleKeys)
	mux.HandleFunc("GET "+eidcred.PathRevocation, m.handleRevocation)
}

func (m *Module) handleBind(w http.ResponseWriter, r *http.Request) {
	var req eidcred.BindRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 4096)).Decode(&req); err != nil {
		m.refuse(w, ErrBadRequest)
		return
	}
	st, err := m.Bind(r.Context(), req, source(r))
	if err != nil {
		m.refuse(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, st)
}

func (m *Module) handleStatus(w http.ResponseWriter, r *http.Request) {
	st, err := m.Status(r.Context(), r.PathValue("id"))
	if err != nil {
		m.refuse(w, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

func (m *Module) handleCredential(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 4096))
	if err != nil {
		m.refuse(w, ErrBadRequest)
		return
	}
	id := r.PathValue("id")
	c, err := m.Credential(r.Context(), id, body)
	if errors.Is(err, ErrPending) {
		writeJSON(w, http.StatusConflict, eidcred.BindingStatus{BindingID: id, State: eidcred.StatePending})
		return
	}
	if err != nil {
		m.refuse(w, err)
		return
	}
	w.Header().Set("Content-Type", eidcred.ContentCOSE)
	w.Write(c)
}

func (m *Module) handleKeys(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, m.Keys())
}

func (m *Module) handleRevocation(w http.ResponseWriter, r *http.Request) {
	b, err := m.RevocationList(r.Context())
	if err != nil {
		m.refuse(w, err)
		return
	}
	w.Header().Set("Content-Type", eidcred.ContentCOSE)
	w.Header().Set("Cache-Control", "no-store")
	w.Write(b)
}

// refusals maps each sentinel onto its status and reason.
var refusals = []struct {
	err    error
	status int
	reason string
}{
	{ErrBadRequest, http.StatusBadRequest, eidcred.ReasonBadRequest},
	{ErrRateLimited, http.StatusTooManyRequests, eidcred.ReasonRateLimited},
	{ErrCodeWrong, http.StatusForbidden, eidcred.ReasonCodeWrong},
	{ErrCodeUsed, http.StatusConflict, eidcred.ReasonCodeUsed},
	{ErrCodeExpired, http.StatusGone, eidcred.ReasonCodeExpired},
	{ErrRejected, http.StatusForbidden, eidcred.ReasonRejected},
	{ErrNotFound, http.StatusNotFound, eidcred.ReasonNotFound},
	{ErrProof, http.StatusForbidden, eidcred.ReasonProof},
	{ErrNotActive, http.StatusForbidden, eidcred.ReasonBindingState},
}

func (m *Module) refuse(w http.ResponseWriter, err error) {
	for _, f := range refusals {
		if errors.Is(err, f.err) {
			writeJSON(w, f.status, eidcred.ErrorBody{Reason: f.reason, Message: f.err.Error()})
			return
		}
	}
	m.o.Log.Error("binding: request failed", "err", err)
	writeJSON(w, http.StatusInternalServerError, eidcred.ErrorBody{Reason: "internal", Message: "internal error"})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func source(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
