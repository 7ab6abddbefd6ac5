// Package tracing gives veza-api its OpenTelemetry tracer (seed 84e92a75e2):
// spans go to an OTLP/HTTP collector when OTEL_EXPORTER_OTLP_ENDPOINT is
// set, and nowhere otherwise — the no-op provider costs nothing and starts
// no goroutine, so a slot without a collector behaves as before.
package tracing

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// EndpointVar is the standard OTLP variable: the collector's base URL, to which /v1/traces is added.
const EndpointVar = "OTEL_EXPORTER_OTLP_ENDPOINT"

// Shutdown flushes what is buffered and stops the exporter.
type Shutdown func(context.Context) error

// Setup returns the provider for this process and how to stop it.
func Setup(getenv func(string) string, service, release string) (trace.TracerProvider, Shutdown, error) {
	endpoint := getenv(EndpointVar)
	if endpoint == "" {
		return noop.NewTracerProvider(), func(context.Context) error { return nil }, nil
	}
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, nil, fmt.Errorf("%s=%q is not an http(s) URL — set it to the collector's OTLP/HTTP base, e.g. http://127.0.0.1:4318, or unset it", EndpointVar, endpoint)
	}
	exp, err := otlptracehttp.New(context.Background(), otlptracehttp.WithEndpointURL(strings.TrimSuffix(endpoint, "/")+"/v1/traces"))
	if err != nil {
		return nil, nil, fmt.Errorf("OTLP exporter: %w", err)
	}
	res := resource.NewSchemaless(attribute.String("service.name", service), attribute.String("service.version", release))
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	return tp, tp.Shutdown, nil
}

// Middleware opens one server span per request, named after its route
// (routes maps the paths the server answers; anything else is "unmatched",
// so a scan of random paths cannot create unbounded span names).
func Middleware(tp trace.TracerProvider, routes map[string]bool, next http.Handler) http.Handler {
	tracer := tp.Tracer("veza-api/http")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		route := "unmatched"
		if routes[r.URL.Path] {
			route = r.URL.Path
		}
		ctx, span := tracer.Start(r.Context(), r.Method+" "+route, trace.WithSpanKind(trace.SpanKindServer),
			trace.WithAttributes(attribute.String("http.request.method", r.Method), attribute.String("http.route", route)))
		defer span.End()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r.WithContext(ctx))
		span.SetAttributes(attribute.Int("http.response.status_code", rec.status))
		if rec.status >= 500 {
			span.SetStatus(codes.Error, http.StatusText(rec.status))
		}
	})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController (and the WebSocket upgrade's Hijack) reach the real writer.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }
