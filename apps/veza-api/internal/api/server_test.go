package api

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"veza.invalid/veza-api/internal/migrate"
	"veza.invalid/veza-api/internal/pgtest"
)

var cluster *pgtest.Cluster

func TestMain(m *testing.M) { pgtest.Main(m, &cluster) }

func ptr(s string) *string { return &s }

var release = strings.Repeat("a", 40)

// A loopback URL where nothing listens: the database is down.
const downDB = "postgres://veza:hunter2-secret@127.0.0.1:9/veza"

type fixture struct {
	srv  *Server
	base string
	host string
}

func start(t *testing.T, databaseURL string, now func() time.Time) fixture {
	t.Helper()
	srv, err := New(Config{Release: ptr(release), Color: ptr("green"), Env: ptr("staging"), Build: "b1", DatabaseURL: databaseURL, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	var once sync.Once
	t.Cleanup(func() { once.Do(func() { srv.Shutdown() }) })
	return fixture{srv, "http://" + ln.Addr().String(), ln.Addr().String()}
}

func getJSON(t *testing.T, url string) (int, http.Header, map[string]any) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, res.Header, body
}

func TestHealthAnswersGetAndHeadWithoutTheDatabase(t *testing.T) {
	f := start(t, downDB, nil)
	code, h, body := getJSON(t, f.base+"/api/v1/health")
	if code != 200 || body["status"] != "ok" || !strings.HasPrefix(h.Get("Content-Type"), "application/json") {
		t.Fatalf("%d %v %v", code, h, body)
	}
	res, err := http.Head(f.base + "/api/v1/health?probe=1")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || res.Header.Get("Content-Length") != fmt.Sprint(len(`{"status":"ok"}`)) || len(b) != 0 {
		t.Fatalf("HEAD: %d %v %q", res.StatusCode, res.Header, b)
	}
}

func TestStatusReportsReleaseUptimeAndAnUnreachableDatabase(t *testing.T) {
	clock := time.Unix(1_000_000, 0)
	var mu sync.Mutex
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	f := start(t, downDB, now)
	mu.Lock()
	clock = clock.Add(61900 * time.Millisecond)
	mu.Unlock()
	code, _, body := getJSON(t, f.base+"/api/v1/status")
	want := map[string]any{"component": "veza-api", "release": release, "color": "green", "env": "staging", "version": Version, "build": "b1", "uptimeSeconds": 61.0, "database": "unreachable", "schemaVersion": nil}
	if code != 200 || fmt.Sprint(body) != fmt.Sprint(want) {
		t.Fatalf("%d %v", code, body)
	}
}

func TestStatusReportsTheSchemaVersionOfARealDatabase(t *testing.T) {
	url := cluster.Database(t)
	f := start(t, url, nil)
	_, _, before := getJSON(t, f.base+"/api/v1/status")
	if before["database"] != "ok" || before["schemaVersion"] != nil {
		t.Fatalf("an unmigrated database: %v", before)
	}
	migrations, err := migrate.Load("../../migrations")
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgxConnect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, _, err := migrate.ApplyPending(context.Background(), conn, migrations, time.Minute); err != nil {
		t.Fatal(err)
	}
	_, _, after := getJSON(t, f.base+"/api/v1/status")
	if after["database"] != "ok" || after["schemaVersion"] != migrations[len(migrations)-1].Version {
		t.Fatalf("after migrating: %v", after)
	}
}

func TestUnknownPathsAre404AndWrongMethods405(t *testing.T) {
	f := start(t, downDB, nil)
	for _, p := range []string{"/", "/api/v1", "/api/v1/healthz", "/api/v2/health", "/api/v1/health/"} {
		code, _, body := getJSON(t, f.base+p)
		if code != 404 || body["error"] != "not found" {
			t.Errorf("%s: %d %v", p, code, body)
		}
	}
	res, err := http.Post(f.base+"/api/v1/health", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 405 || res.Header.Get("Allow") != "GET, HEAD" {
		t.Fatalf("%d %v", res.StatusCode, res.Header)
	}
}

// dialSocket opens /api/v1/ws and reads its hello; the connection and its context end with the test.
func dialSocket(t *testing.T, f fixture) (*websocket.Conn, context.Context, map[string]any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	c, _, err := websocket.Dial(ctx, "ws://"+f.host+"/api/v1/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.CloseNow() })
	typ, data, err := c.Read(ctx)
	var greeting map[string]any
	if err != nil || typ != websocket.MessageText || json.Unmarshal(data, &greeting) != nil {
		t.Fatalf("hello: %v %q %v", typ, data, err)
	}
	return c, ctx, greeting
}

func TestTheWebSocketSaysHelloWithTheSlotsColourReleaseAndEnv(t *testing.T) {
	f := start(t, downDB, nil)
	_, _, greeting := dialSocket(t, f)
	want := map[string]any{"hello": "veza-api", "color": "green", "release": release, "env": "staging"}
	if fmt.Sprint(greeting) != fmt.Sprint(want) {
		t.Fatalf("hello %v, want %v", greeting, want)
	}
}

func TestTheWebSocketEchoesTextAndBinaryFrames(t *testing.T) {
	f := start(t, downDB, nil)
	c, ctx, _ := dialSocket(t, f)
	for _, msg := range []struct {
		typ  websocket.MessageType
		data []byte
	}{{websocket.MessageText, []byte("hello veza")}, {websocket.MessageBinary, []byte{0, 1, 2, 250, 255}}} {
		if err := c.Write(ctx, msg.typ, msg.data); err != nil {
			t.Fatal(err)
		}
		typ, got, err := c.Read(ctx)
		if err != nil || typ != msg.typ || string(got) != string(msg.data) {
			t.Fatalf("echo of %v: %v %q %v", msg.typ, typ, got, err)
		}
	}
}

func TestUpgradesElsewhereAre404AndAPlainGetOfTheSocketIs426(t *testing.T) {
	f := start(t, downDB, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, p := range []string{"/api/v1/other", "/api/v1/health"} {
		_, res, err := websocket.Dial(ctx, "ws://"+f.host+p, nil)
		if err == nil || res == nil || res.StatusCode != 404 {
			t.Errorf("%s: %v %v", p, res, err)
		}
	}
	res, err := http.Get(f.base + "/api/v1/ws")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 426 || res.Header.Get("Upgrade") != "websocket" {
		t.Fatalf("%d %v", res.StatusCode, res.Header)
	}
}

func TestShutdownSaysGoingAwayToSocketsAndStopsListening(t *testing.T) {
	f := start(t, downDB, nil)
	c, ctx, _ := dialSocket(t, f)
	read := make(chan error, 1)
	go func() { _, _, err := c.Read(ctx); read <- err }()
	if err := f.srv.Shutdown(); err != nil {
		t.Fatal(err)
	}
	if code := websocket.CloseStatus(<-read); code != websocket.StatusGoingAway {
		t.Fatalf("close status %v, want 1001", code)
	}
	if _, err := http.Get(f.base + "/api/v1/health"); err == nil {
		t.Fatal("still listening after Shutdown")
	}
}

func TestShutdownLetsAnInFlightRequestFinish(t *testing.T) {
	f := start(t, downDB, nil)
	// A slow route, added for the test: the handler is still running when Shutdown begins.
	entered, release := make(chan struct{}), make(chan struct{})
	inner := f.srv.http.Handler
	f.srv.http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			close(entered)
			<-release
			sendJSON(w, 200, map[string]string{"slow": "done"})
			return
		}
		inner.ServeHTTP(w, r)
	})
	got := make(chan string, 1)
	go func() {
		res, err := http.Get(f.base + "/slow")
		if err != nil {
			got <- err.Error()
			return
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		got <- string(b)
	}()
	<-entered
	stopped := make(chan error, 1)
	go func() { stopped <- f.srv.Shutdown() }()
	close(release)
	if body := <-got; body != `{"slow":"done"}` {
		t.Fatalf("the in-flight request got %q", body)
	}
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
}
