package api

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"veza.invalid/veza-api/internal/tracing"
)

// receiver is an OTLP/HTTP trace endpoint written for the test: it decodes
// what the exporter posts to /v1/traces with the OTLP protobuf types.
type receiver struct {
	mu    sync.Mutex
	spans []*tracepb.Span
	attrs map[string]string
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var req coltracepb.ExportTraceServiceRequest
	if r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/x-protobuf" || proto.Unmarshal(body, &req) != nil {
		http.Error(w, "not an OTLP trace export", http.StatusBadRequest)
		return
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	for _, rs := range req.ResourceSpans {
		for _, a := range rs.GetResource().GetAttributes() {
			rc.attrs[a.Key] = a.GetValue().GetStringValue()
		}
		for _, ss := range rs.ScopeSpans {
			rc.spans = append(rc.spans, ss.Spans...)
		}
	}
	w.Header().Set("Content-Type", "application/x-protobuf")
	out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
	_, _ = w.Write(out)
}

func startReceiver(t *testing.T) (*receiver, string) {
	t.Helper()
	rc := &receiver{attrs: map[string]string{}}
	// This component's own loopback address and port (no other test uses them).
	ln, err := net.Listen("tcp", "127.79.50.2:25601")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(rc)
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	return rc, srv.URL
}

func TestSpansGoToTheOTLPEndpointWhenItIsSet(t *testing.T) {
	rc, url := startReceiver(t)
	env := map[string]string{tracing.EndpointVar: url}
	tp, shutdown, err := tracing.Setup(func(k string) string { return env[k] }, "veza-api", "b1")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(Config{Release: ptr(release), Build: "b1", DatabaseURL: downDB, Tracing: tp})
	if err != nil {
		t.Fatal(err)
	}
	h := srv.Handler()
	for _, path := range []string{"/api/v1/health", "/api/v1/status", "/no/such/path"} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, path, nil))
	}
	// Shutdown flushes the batch: everything ended above is exported before it returns.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := shutdown(ctx); err != nil {
		t.Fatal(err)
	}

	rc.mu.Lock()
	defer rc.mu.Unlock()
	byName := map[string]*tracepb.Span{}
	for _, s := range rc.spans {
		byName[s.Name] = s
	}
	for _, name := range []string{"GET /api/v1/health", "GET /api/v1/status", "GET unmatched", "db.schema_version"} {
		if byName[name] == nil {
			t.Fatalf("no span %q among %d received", name, len(rc.spans))
		}
	}
	status, db := byName["GET /api/v1/status"], byName["db.schema_version"]
	if status.Kind != tracepb.Span_SPAN_KIND_SERVER || string(db.ParentSpanId) != string(status.SpanId) || string(db.TraceId) != string(status.TraceId) {
		t.Fatalf("the database read is not a child of its request's server span: %v / %v", status, db)
	}
	if db.GetStatus().GetCode() != tracepb.Status_STATUS_CODE_ERROR {
		t.Fatalf("the unreachable database is not marked as an error: %v", db.GetStatus())
	}
	if rc.attrs["service.name"] != "veza-api" || rc.attrs["service.version"] != "b1" {
		t.Fatalf("resource attributes: %v", rc.attrs)
	}
}

func TestNoEndpointNoSpansAndABadOneIsRefused(t *testing.T) {
	tp, shutdown, err := tracing.Setup(func(string) string { return "" }, "veza-api", "b1")
	if err != nil {
		t.Fatal(err)
	}
	_, span := tp.Tracer("t").Start(context.Background(), "x")
	if span.IsRecording() || span.SpanContext().IsValid() {
		t.Fatal("without an endpoint, spans must be no-ops")
	}
	if err := shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"127.0.0.1:4318", "ftp://collector", "http://"} {
		if _, _, err := tracing.Setup(func(string) string { return bad }, "veza-api", "b1"); err == nil {
			t.Fatalf("%q was accepted as an OTLP endpoint", bad)
		}
	}
}
