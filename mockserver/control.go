package mockserver

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net"
	"net/http"
	"strings"

	"github.com/joai-ai/joai-mcp/internal/inspector"
)

// The control API, for tests and scripts that drive the server from
// outside the process. Bodies are JSON; errors use the same
// {"error": ..., "error_description": ...} shape as the service.
//
//	GET    /_mock/info              the Info line
//	GET    /_mock/faults            the installed faults
//	POST   /_mock/faults            installs a Fault (its JSON form)
//	DELETE /_mock/faults            clears the faults
//	GET    /_mock/requests          the Received log, oldest first
//	DELETE /_mock/requests          clears the log
//	POST   /_mock/reset             state back to the seed; faults, limiter, sessions, log cleared
//	POST   /_mock/sessions/expire   every session now gets 404
//	GET    /_mock/limits            the server-wide Limits
//	PUT    /_mock/limits            replaces them (a Limits in JSON; zero fields take defaults)
//	POST   /_mock/notify            {"agent_uuid": "...", "message": {...}} to the agent's GET streams
func (s *Server) controlRoutes() http.Handler {
	mux := http.NewServeMux()
	s.control = mux
	mux.HandleFunc("GET /_mock/info", func(w http.ResponseWriter, r *http.Request) {
		writeControl(w, http.StatusOK, s.Info())
	})
	mux.HandleFunc("GET /_mock/faults", func(w http.ResponseWriter, r *http.Request) {
		writeControl(w, http.StatusOK, map[string]any{"faults": s.Faults()})
	})
	mux.HandleFunc("POST /_mock/faults", s.controlAddFault)
	mux.HandleFunc("DELETE /_mock/faults", func(w http.ResponseWriter, r *http.Request) {
		s.ClearFaults()
		writeControl(w, http.StatusOK, map[string]any{"faults": []Fault{}})
	})
	mux.HandleFunc("GET /_mock/requests", func(w http.ResponseWriter, r *http.Request) {
		writeControl(w, http.StatusOK, map[string]any{"requests": s.Requests()})
	})
	mux.HandleFunc("DELETE /_mock/requests", func(w http.ResponseWriter, r *http.Request) {
		s.ClearRequests()
		writeControl(w, http.StatusOK, map[string]any{"requests": []Received{}})
	})
	mux.HandleFunc("POST /_mock/reset", func(w http.ResponseWriter, r *http.Request) {
		if err := s.reset(); err != nil {
			controlError(w, http.StatusInternalServerError, "server_error", err.Error())
			return
		}
		writeControl(w, http.StatusOK, map[string]any{"reset": true})
	})
	mux.HandleFunc("POST /_mock/sessions/expire", func(w http.ResponseWriter, r *http.Request) {
		s.ExpireSessions()
		writeControl(w, http.StatusOK, map[string]any{"expired": true})
	})
	mux.HandleFunc("GET /_mock/limits", func(w http.ResponseWriter, r *http.Request) {
		writeControl(w, http.StatusOK, s.Limits())
	})
	mux.HandleFunc("PUT /_mock/limits", s.controlSetLimits)
	mux.HandleFunc("POST /_mock/notify", s.controlNotify)
	mux.HandleFunc("/_mock/", func(w http.ResponseWriter, r *http.Request) {
		controlError(w, http.StatusNotFound, "not_found", "No control endpoint "+r.Method+" "+r.URL.Path)
	})
	return loopbackOnly(mux)
}

// HandleControl adds a handler under /_mock/ to the control API, where it
// is served to loopback clients only. The pattern is a ServeMux pattern
// whose path starts with "/_mock/", such as "GET /_mock/inspector". It
// panics on any other pattern or one already taken.
func (s *Server) HandleControl(pattern string, h http.Handler) {
	_, path, _ := strings.Cut(pattern, " ")
	if !strings.HasPrefix(pattern, "/_mock/") && !strings.HasPrefix(path, "/_mock/") {
		panic("mockserver: HandleControl: pattern " + pattern + " is outside /_mock/")
	}
	s.control.Handle(pattern, h)
}

// loopbackOnly guards the control API against other hosts and web pages.
// It rejects with 403 a client that is not on a loopback address, and a
// Host header that is not a loopback address or localhost. The Host check
// defeats DNS rebinding, because browsers send no Origin on some requests.
// It also rejects with 403 an Origin that is not a loopback page. It
// rejects with 415 a request with a body or a Content-Type other than
// application/json, because a cross-site form or text/plain POST needs no
// preflight.
func loopbackOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := checkControlRequest(r); err != nil {
			status, code := http.StatusForbidden, "forbidden"
			if errors.Is(err, errControlMediaType) {
				status, code = http.StatusUnsupportedMediaType, "unsupported_media_type"
			}
			controlError(w, status, code, err.Error())
			return
		}
		next.ServeHTTP(w, r)
	})
}

var errControlMediaType = errors.New("the control API accepts Content-Type application/json only")

// checkControlRequest returns why r may not use the control API, or nil.
func checkControlRequest(r *http.Request) error {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
		return errors.New("the control API accepts loopback clients only")
	}
	if !inspector.IsLoopbackHost(r.Host) {
		return fmt.Errorf("the control API accepts a loopback Host only, not %q; use 127.0.0.1, [::1] or localhost in the URL", r.Host)
	}
	if origin := r.Header.Get("Origin"); origin != "" && !isLoopbackOrigin(origin) {
		return fmt.Errorf("the control API accepts requests from loopback pages only, not from origin %q", origin)
	}
	ct := r.Header.Get("Content-Type")
	if ct == "" && r.ContentLength == 0 {
		return nil
	}
	if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
		return fmt.Errorf("%w, not %q; send the body with Content-Type: application/json", errControlMediaType, ct)
	}
	return nil
}

// decodeControl decodes a control request body strictly, so that a
// misspelt field is an error.
func decodeControl(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		controlError(w, http.StatusBadRequest, "invalid_request", "decoding the body: "+err.Error())
		return false
	}
	return true
}

func (s *Server) controlAddFault(w http.ResponseWriter, r *http.Request) {
	var f Fault
	if !decodeControl(w, r, &f) {
		return
	}
	if err := f.Validate(); err != nil {
		controlError(w, http.StatusBadRequest, "invalid_request", "invalid fault: "+err.Error())
		return
	}
	s.faults.add(f)
	writeControl(w, http.StatusCreated, map[string]any{"faults": s.Faults()})
}

func (s *Server) controlSetLimits(w http.ResponseWriter, r *http.Request) {
	var l Limits
	if !decodeControl(w, r, &l) {
		return
	}
	if err := s.SetLimits(l); err != nil {
		controlError(w, http.StatusBadRequest, "invalid_request", "invalid limits: "+err.Error())
		return
	}
	writeControl(w, http.StatusOK, s.Limits())
}

func (s *Server) controlNotify(w http.ResponseWriter, r *http.Request) {
	var req struct {
		AgentUUID string          `json:"agent_uuid"`
		Message   json.RawMessage `json:"message"`
	}
	if !decodeControl(w, r, &req) {
		return
	}
	m := parseMessage(req.Message)
	if m.errCode != 0 {
		controlError(w, http.StatusBadRequest, "invalid_request", "message is not a JSON-RPC message: "+m.errMessage)
		return
	}
	var compact bytes.Buffer
	json.Compact(&compact, req.Message)
	n := s.Notify(req.AgentUUID, compact.Bytes())
	writeControl(w, http.StatusOK, map[string]any{"streams": n})
}

func writeControl(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		controlError(w, http.StatusInternalServerError, "server_error", err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

func controlError(w http.ResponseWriter, status int, code, description string) {
	b, _ := json.Marshal(map[string]string{"error": code, "error_description": description})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}
