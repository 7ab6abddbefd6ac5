// Package pgtest starts a throwaway PostgreSQL cluster from the machine's own
// binaries for the Go tests, so `go test ./...` exercises real SQL wherever
// it runs (the Nx test target, the go build preset, a developer's shell)
// without anything started for it beforehand.
//
// The cluster listens on a unix socket in its own temp dir and on no TCP
// port, so parallel test runs in other checkouts never collide. initdb
// refuses to run as root, so as root the server runs as the `postgres` OS
// user (Debian's postgresql package creates it) through runuser.
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"
)

// ErrNoPostgres means this machine has no PostgreSQL server binaries; the
// only case in which a test may skip instead of fail.
var ErrNoPostgres = errors.New("no PostgreSQL server binaries (pg_config --bindir, /usr/lib/postgresql/15/bin) — install postgresql-15 (bash tools/scripts/setup.sh)")

type Cluster struct {
	dir    string
	bin    string
	asUser string
	dbs    atomic.Int32
}

func binDir() (string, error) {
	var candidates []string
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		candidates = append(candidates, strings.TrimSpace(string(out)))
	}
	candidates = append(candidates, "/usr/lib/postgresql/15/bin")
	for _, d := range candidates {
		if st, err := os.Stat(filepath.Join(d, "initdb")); err == nil && !st.IsDir() {
			return d, nil
		}
	}
	return "", ErrNoPostgres
}

// run starts a server tool, as the postgres user when we are root; cwd is
// the cluster dir because that user may not be able to enter ours.
func (c *Cluster) run(tool string, args ...string) error {
	argv := append([]string{filepath.Join(c.bin, tool)}, args...)
	if c.asUser != "" {
		argv = append([]string{"runuser", "-u", c.asUser, "--"}, argv...)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = c.dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %v: %s", tool, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// Start initialises and starts a cluster; Stop removes it.
func Start() (*Cluster, error) {
	bin, err := binDir()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "veza-gotest-pg-")
	if err != nil {
		return nil, err
	}
	c := &Cluster{dir: dir, bin: bin}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("running as root and there is no postgres user to run the test cluster as (%v) — install postgresql-15 or run the tests as a normal user", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		c.asUser = "postgres"
	}
	data := filepath.Join(dir, "data")
	if err := c.run("initdb", "-D", data, "-U", "postgres", "--auth-local=trust", "-E", "UTF8", "--no-instructions"); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	conf := strings.Join([]string{
		"listen_addresses = ''",
		"unix_socket_directories = '" + dir + "'",
		// Durability buys nothing in a cluster deleted after the test.
		"fsync = off", "synchronous_commit = off", "full_page_writes = off",
		"max_connections = 40", "",
	}, "\n")
	f, err := os.OpenFile(filepath.Join(data, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err == nil {
		_, err = f.WriteString(conf)
		f.Close()
	}
	if err == nil {
		err = c.run("pg_ctl", "-D", data, "-l", filepath.Join(dir, "server.log"), "-w", "-t", "30", "start")
	}
	if err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "server.log"))
		os.RemoveAll(dir)
		return nil, fmt.Errorf("test postgres did not start: %v %s", err, log)
	}
	return c, nil
}

// URL of database db over the cluster's socket, in the postgres:// form the
// components take from DATABASE_URL.
func (c *Cluster) URL(db string) string {
	return "postgres://postgres@/" + db + "?host=" + url.QueryEscape(c.dir)
}

// NewDatabase creates an empty database and returns its URL, so each test
// starts from nothing.
func (c *Cluster) NewDatabase(ctx context.Context) (string, error) {
	name := fmt.Sprintf("t%d", c.dbs.Add(1))
	conn, err := pgx.Connect(ctx, c.URL("postgres"))
	if err != nil {
		return "", err
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return "", err
	}
	return c.URL(name), nil
}

func (c *Cluster) Stop() {
	_ = c.run("pg_ctl", "-D", filepath.Join(c.dir, "data"), "-m", "immediate", "-w", "-t", "30", "stop")
	os.RemoveAll(c.dir)
}

// Main is a test package's TestMain: one cluster for the package, stopped
// after its tests. A machine without PostgreSQL binaries leaves *into nil,
// and Database then skips; any other start failure fails the package.
func Main(m *testing.M, into **Cluster) {
	c, err := Start()
	if err != nil && err != ErrNoPostgres {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	*into = c
	code := m.Run()
	if c != nil {
		c.Stop()
	}
	os.Exit(code)
}

// Database is a fresh database's URL for one test.
func (c *Cluster) Database(t testing.TB) string {
	t.Helper()
	if c == nil {
		t.Skip(ErrNoPostgres.Error())
	}
	url, err := c.NewDatabase(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return url
}
