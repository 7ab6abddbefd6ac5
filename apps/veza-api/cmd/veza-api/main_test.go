package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
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
