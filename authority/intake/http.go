package intake

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"eidkiosk/enroll"
)

// The HTTP API, its paths, codes and bodies are enroll's (PathEnrollments,
// ErrorBody, StatusBody): the terminal imports the same definitions.
const (
	PathEnrollments = enroll.PathEnrollments
	ContentType     = enroll.ContentType
	// RetryAfter is the Retry-After the intake sends when busy.
	RetryAfter = 2 * time.Second
)

// Routes implements authority.Module.
func (in *Intake) Routes(mux *http.ServeMux) {
	mux.HandleFunc("POST "+PathEnrollments+"{id}", in.handlePost)
	mux.HandleFunc("GET "+PathEnrollments+"{id}", in.handleStatus)
}

func writeRefusal(w http.ResponseWriter, ref *Refusal) {
	if ref.Code == enroll.CodeBusy {
		w.Header().Set("Retry-After", strconv.Itoa(int(RetryAfter/time.Second)))
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(ref.Status())
	json.NewEncoder(w).Encode(enroll.ErrorBody{Code: ref.Code, Message: ref.Message})
}

func (in *Intake) handlePost(w http.ResponseWriter, r *http.Request) {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		writeRefusal(w, refuse(enroll.CodeNoClientCert, "a device certificate is required"))
		return
	}
	id := r.PathValue("id")
	if k := r.Header.Get("Idempotency-Key"); k != "" && k != id {
		writeRefusal(w, refuse(enroll.CodeIDMismatch, "Idempotency-Key differs from the URL"))
		return
	}
	select {
	case in.sem <- struct{}{}:
		defer func() { <-in.sem }()
	case <-time.After(RetryAfter):
		writeRefusal(w, refuse(enroll.CodeBusy, "intake busy"))
		return
	case <-r.Context().Done():
		return
	}
	body, err := readBody(w, r)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeRefusal(w, refuse(enroll.CodeTooLarge, "package above %d bytes", enroll.MaxPackageSize))
		}
		return
	}
	res, err := in.Submit(r.Context(), body, id, r.TLS.PeerCertificates[0], FromUplink)
	if err != nil {
		var ref *Refusal
		if errors.As(err, &ref) {
			in.log.Info("intake: refused", "code", ref.Code, "enrollment", id)
			writeRefusal(w, ref)
			return
		}
		in.log.Error("intake: store failed", "enrollment", id, "err", err)
		if errors.Is(err, context.Canceled) {
			return
		}
		writeRefusal(w, refuse(enroll.CodeBusy, "store failed, retry"))
		return
	}
	w.Header().Set("Content-Type", ContentType)
	if res.Repeat {
		w.WriteHeader(http.StatusOK)
	} else {
		w.WriteHeader(http.StatusCreated)
	}
	w.Write(res.Receipt)
}

// readBody reads the package, at most enroll.MaxPackageSize bytes, into a
// buffer sized from Content-Length when the client sent one.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if r.ContentLength > enroll.MaxPackageSize {
		return nil, &http.MaxBytesError{Limit: enroll.MaxPackageSize}
	}
	rd := http.MaxBytesReader(w, r.Body, enroll.MaxPackageSize)
	if r.ContentLength <= 0 {
		return io.ReadAll(rd)
	}
	buf := make([]byte, r.ContentLength)
	if _, err := io.ReadFull(rd, buf); err != nil {
		return nil, err
	}
	return buf, nil
}

func (in *Intake) handleStatus(w http.ResponseWriter, r *http.Request) {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		writeRefusal(w, refuse(enroll.CodeNoClientCert, "a device certificate is required"))
		return
	}
	deviceID, _, err := in.devices.Authorize(r.Context(), r.TLS.PeerCertificates[0])
	if err != nil {
		writeRefusal(w, fromDevices(err))
		return
	}
	st, err := in.status(r.Context(), r.PathValue("id"))
	if err != nil || st.device != deviceID {
		// Another terminal's enrollment is reported as absent.
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	// The terminal learns the status, never what flagged it.
	body := st.StatusBody
	body.Flags = nil
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(body)
}
