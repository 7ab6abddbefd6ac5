package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
)

const secret = "Pa55-never-logged"

// Port 9 (discard) has no listener on loopback: status must still answer.
var databaseURL = "postgres://veza:" + secret + "@127.0.0.1:9/veza"

// lockedBuffer lets the test read the start line while run is still writing.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
func (l *lockedBuffer) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

func getenv(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

// With VEZA_API_TEST_MAIN=1 the test binary is veza-api itself: the real
// main in a process of its own, which exits when run returns.
func TestMain(m *testing.M) {
	if os.Getenv("VEZA_API_TEST_MAIN") == "1" {
		main()
	}
	os.Exit(m.Run())
}

// The slot's stop is SIGTERM, then the process exits: the 1001 must be on
// the wire by then, or the client sees the connection drop (1006) and cannot
// tell a planned stop from a crash.
func TestAWebSocketOpenAtSigtermIsToldGoingAwayBeforeTheProcessExits(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "VEZA_API_TEST_MAIN=1", "PORT=0", "HOST=127.0.0.1", "DATABASE_URL="+databaseURL, "VEZA_COLOR=green")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, _ := bufio.NewReader(out).ReadString('\n')
	m := regexp.MustCompile(`listen=(127\.0\.0\.1:\d+) `).FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("start line %q", line)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws://"+m[1]+"/api/v1/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	if _, greeting, err := c.Read(ctx); err != nil || !strings.Contains(string(greeting), `"color":"green"`) {
		t.Fatalf("hello %q %v", greeting, err)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Read(ctx); websocket.CloseStatus(err) != websocket.StatusGoingAway {
		t.Fatalf("after SIGTERM: %v, want close status 1001", err)
	}
}

func TestMainListensLogsOneStartLineAndStopsOnSigterm(t *testing.T) {
	sha := strings.Repeat("c", 40)
	var stdout, stderr lockedBuffer
	signals := make(chan os.Signal, 1)
	code := make(chan int, 1)
	go func() {
		code <- run(getenv(map[string]string{"PORT": "0", "HOST": "127.0.0.1", "DATABASE_URL": databaseURL, "VEZA_RELEASE_SHA": sha, "VEZA_COLOR": "blue", "VEZA_ENV": "staging"}), &stdout, &stderr, signals)
	}()
	startRe := regexp.MustCompile(`^veza-api start listen=127\.0\.0\.1:(\d+) release=` + sha + ` color=blue env=staging\n$`)
	var port string
	for deadline := time.Now().Add(10 * time.Second); port == "" && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if m := startRe.FindStringSubmatch(stdout.String()); m != nil {
			port = m[1]
		}
	}
	if port == "" {
		t.Fatalf("no start line: %q %q", stdout.String(), stderr.String())
	}
	res, err := http.Get("http://127.0.0.1:" + port + "/api/v1/status")
	if err != nil {
		t.Fatal(err)
	}
	var body map[string]any
	json.NewDecoder(res.Body).Decode(&body)
	res.Body.Close()
	if body["release"] != sha || body["color"] != "blue" || body["build"] != "dev" {
		t.Fatalf("status: %v", body)
	}
	// VEZA_COLOR reaches the WebSocket hello too: a client sees which colour serves its session.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws://127.0.0.1:"+port+"/api/v1/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	_, greeting, err := c.Read(ctx)
	c.CloseNow()
	if err != nil || string(greeting) != `{"hello":"veza-api","release":"`+sha+`","color":"blue","env":"staging"}` {
		t.Fatalf("hello %q %v", greeting, err)
	}
	signals <- syscall.SIGTERM
	if c := <-code; c != 0 {
		t.Fatalf("exit %d: %s", c, stderr.String())
	}
	if !strings.HasSuffix(stdout.String(), "veza-api stop signal=SIGTERM\n") || strings.Contains(stdout.String()+stderr.String(), secret) {
		t.Fatalf("stdout %q stderr %q", stdout.String(), stderr.String())
	}
}

func TestMainRefusesMalformedInputWithOneLineAndExit2(t *testing.T) {
	cases := []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"PORT": "0"}, `^veza-api: DATABASE_URL is not set — [^\n]+\n$`},
		{map[string]string{"PORT": "0", "DATABASE_URL": databaseURL, "VEZA_COLOR": "purple"}, `^veza-api: VEZA_COLOR="purple" is invalid — use blue or green\n$`},
		{map[string]string{"PORT": "0", "DATABASE_URL": databaseURL, "VEZA_RELEASE_SHA": "HEAD"}, `^veza-api: VEZA_RELEASE_SHA="HEAD" is invalid — [^\n]+\n$`},
		{map[string]string{"PORT": "0", "DATABASE_URL": databaseURL, "VEZA_ENV": "Prod!"}, `^veza-api: VEZA_ENV="Prod!" is invalid — [^\n]+\n$`},
	}
	for _, c := range cases {
		var stdout, stderr lockedBuffer
		if code := run(getenv(c.env), &stdout, &stderr, nil); code != 2 || !regexp.MustCompile(c.want).MatchString(stderr.String()) || stdout.String() != "" {
			t.Errorf("%v: exit %d stderr %q", c.env, code, stderr.String())
		}
		if strings.Contains(stderr.String(), secret) {
			t.Errorf("the password was printed: %q", stderr.String())
		}
	}
}
