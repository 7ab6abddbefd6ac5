// Package api is veza-api's HTTP surface: liveness, the status report the
// deploy verifies, and the WebSocket endpoint the edge keeps sticky (a hello
// naming the slot's colour and release, then an echo of every frame).
package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"veza.invalid/veza-api/internal/dburl"
	"veza.invalid/veza-api/internal/migrate"
	"veza.invalid/veza-api/internal/tracing"
)

// Version is the API's own version, distinct from the release that built it.
const Version = "1.0.0"

const (
	base = "/api/v1"
	// Status must answer quickly when the database is down, so the deploy can still read the release.
	dbProbeTimeout = 1500 * time.Millisecond
	// In-flight requests get this long after SIGTERM; then what is left is cut.
	shutdownGrace = 2 * time.Second
	maxFrame      = 64 * 1024
)

type Config struct {
	Release, Color, Env *string
	// Build is the release stamped into the binary (-X main.release); it
	// differs from Release when an unchanged artifact is reused by a newer release.
	Build       string
	DatabaseURL string
	// Now is the clock; tests pin it to check uptime.
	Now func() time.Time
	// Tracing receives a span per request and per database read; nil traces nothing.
	Tracing trace.TracerProvider
}

type Server struct {
	cfg     Config
	started time.Time
	pool    *pgxpool.Pool
	http    *http.Server

	mu      sync.Mutex
	sockets map[*websocket.Conn]struct{}
	// closing is set once shutdown has begun: a socket accepted after the
	// snapshot closeSockets took must close itself.
	closing bool
}

// New prepares the server; the pool connects lazily, so a database that is
// down at start only shows in the status report.
func New(cfg Config) (*Server, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Tracing == nil {
		cfg.Tracing = noop.NewTracerProvider()
	}
	pc, err := pgxpool.ParseConfig(cfg.DatabaseURL)
	if err != nil {
		return nil, errors.New("DATABASE_URL cannot be parsed as a PostgreSQL URL — use postgres://user:password@host:port/db")
	}
	pc.MaxConns = 2
	pc.MaxConnIdleTime = 10 * time.Second
	pc.ConnConfig.ConnectTimeout = dbProbeTimeout
	dburl.ForTransactionPooling(pc.ConnConfig)
	pool, err := pgxpool.NewWithConfig(context.Background(), pc)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, started: cfg.Now(), pool: pool, sockets: map[*websocket.Conn]struct{}{}}
	s.http = &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	return s, nil
}

func sendJSON(w http.ResponseWriter, status int, body any) {
	text, _ := json.Marshal(body)
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(text)))
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	// net/http drops the body of HEAD responses itself and keeps the headers.
	_, _ = w.Write(text)
}

type statusReport struct {
	Component     string  `json:"component"`
	Release       *string `json:"release"`
	Color         *string `json:"color"`
	Env           *string `json:"env"`
	Version       string  `json:"version"`
	Build         string  `json:"build"`
	UptimeSeconds int64   `json:"uptimeSeconds"`
	Database      string  `json:"database"`
	SchemaVersion *string `json:"schemaVersion"`
}

// status is always 200: it reports what is running, and the database's
// state is part of that report rather than a reason to fail. Liveness is
// /health; readiness decisions read this body.
func (s *Server) status(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), dbProbeTimeout)
	defer cancel()
	database := "ok"
	ctx, span := s.cfg.Tracing.Tracer("veza-api/db").Start(ctx, "db.schema_version", trace.WithSpanKind(trace.SpanKindClient))
	schema, err := migrate.LatestVersion(ctx, s.pool)
	if err != nil {
		database, schema = "unreachable", nil
		span.SetStatus(codes.Error, "database unreachable")
	}
	span.End()
	sendJSON(w, http.StatusOK, statusReport{
		Component: "veza-api", Release: s.cfg.Release, Color: s.cfg.Color, Env: s.cfg.Env,
		Version: Version, Build: s.cfg.Build,
		UptimeSeconds: int64(s.cfg.Now().Sub(s.started) / time.Second),
		Database:      database, SchemaVersion: schema,
	})
}

// hello is a session's first frame: which slot answers it. A WebSocket stays
// on the slot that accepted it, so this tells a client the colour and release
// serving it — across a blue/green switch, the old colour's until it closes.
type hello struct {
	Hello   string  `json:"hello"`
	Release *string `json:"release"`
	Color   *string `json:"color"`
	Env     *string `json:"env"`
}

func (s *Server) ws(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Upgrade") == "" {
		w.Header().Set("Upgrade", "websocket")
		sendJSON(w, http.StatusUpgradeRequired, map[string]string{"error": "this endpoint speaks WebSocket only"})
		return
	}
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return // Accept has answered the client already.
	}
	c.SetReadLimit(maxFrame)
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		_ = c.Close(websocket.StatusGoingAway, "server shutting down")
		return
	}
	s.sockets[c] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.sockets, c)
		s.mu.Unlock()
		c.CloseNow()
	}()
	// Hijacked connections outlive the request's context; only the socket's own errors end the loop.
	ctx := context.Background()
	greeting, _ := json.Marshal(hello{Hello: "veza-api", Release: s.cfg.Release, Color: s.cfg.Color, Env: s.cfg.Env})
	if err := c.Write(ctx, websocket.MessageText, greeting); err != nil {
		return
	}
	for {
		typ, data, err := c.Read(ctx)
		if err != nil {
			return
		}
		if err := c.Write(ctx, typ, data); err != nil {
			return
		}
	}
}

// closeSockets says 1001 "going away" to every client, which makes them
// reconnect — landing on the new colour after a switch.
func (s *Server) closeSockets() {
	s.mu.Lock()
	s.closing = true
	open := make([]*websocket.Conn, 0, len(s.sockets))
	for c := range s.sockets {
		open = append(open, c)
	}
	s.mu.Unlock()
	var wg sync.WaitGroup
	for _, c := range open {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = c.Close(websocket.StatusGoingAway, "server shutting down")
		}()
	}
	wg.Wait()
}

func (s *Server) Handler() http.Handler {
	routes := map[string]http.HandlerFunc{
		base + "/health": func(w http.ResponseWriter, _ *http.Request) {
			sendJSON(w, http.StatusOK, map[string]string{"status": "ok"})
		},
		base + "/status": s.status,
		base + "/ws":     s.ws,
	}
	known := make(map[string]bool, len(routes))
	for path := range routes {
		known[path] = true
	}
	return tracing.Middleware(s.cfg.Tracing, known, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		route, ok := routes[r.URL.Path]
		// An upgrade anywhere but the socket path is refused, not answered as a plain GET.
		if !ok || (r.Header.Get("Upgrade") != "" && r.URL.Path != base+"/ws") {
			sendJSON(w, http.StatusNotFound, map[string]string{"error": "not found"})
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			sendJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "method not allowed"})
			return
		}
		route(w, r)
	}))
}

// Serve answers on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error {
	if err := s.http.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Shutdown stops accepting, says 1001 to every WebSocket and lets in-flight
// requests finish for a grace period, then cuts what is left, so SIGTERM
// never waits on an idle keep-alive client. It returns once the sockets'
// close handshakes are done (or the grace is over): http.Server.Shutdown
// neither closes nor waits for hijacked connections, and a process that
// exited before its close frames went out would drop them as 1006.
func (s *Server) Shutdown() error {
	ctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	sockets := make(chan struct{})
	go func() {
		s.closeSockets()
		close(sockets)
	}()
	err := s.http.Shutdown(ctx)
	select {
	case <-sockets:
	case <-ctx.Done():
	}
	if errors.Is(err, context.DeadlineExceeded) {
		err = s.http.Close()
	}
	s.pool.Close()
	if err != nil {
		return fmt.Errorf("stopping the HTTP server: %w", err)
	}
	return nil
}
