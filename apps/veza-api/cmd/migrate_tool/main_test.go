package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"veza.invalid/veza-api/internal/pgtest"
)

var cluster *pgtest.Cluster

func TestMain(m *testing.M) { pgtest.Main(m, &cluster) }

func database(t *testing.T) string { return cluster.Database(t) }

type result struct {
	code           int
	stdout, stderr string
}

func tool(env map[string]string, args ...string) result {
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, func(k string) string { return env[k] }, &out, &errOut)
	return result{code, out.String(), errOut.String()}
}

// The real migrations' file names, in order: what a run applies or lists,
// so adding a migration to the component needs no edit here.
func realMigrations(t *testing.T) []string {
	files, _ := filepath.Glob("../../migrations/*.sql")
	if len(files) < 2 {
		t.Fatalf("expected the component's migrations, found %v", files)
	}
	names := make([]string, len(files))
	for i, f := range files {
		names[i] = filepath.Base(f)
	}
	return names
}

// Each name with prefix before it and a newline after: migrate_tool's output for those files.
func lines(prefix string, names []string) string {
	var b strings.Builder
	for _, n := range names {
		b.WriteString(prefix + n + "\n")
	}
	return b.String()
}

// A copy of the real migrations, so a test may edit one; a file a test adds is named 9999_*, after every real one.
func migrationsCopy(t *testing.T) string {
	dir := t.TempDir()
	files, _ := filepath.Glob("../../migrations/*.sql")
	if len(files) < 2 {
		t.Fatalf("expected the component's migrations, found %v", files)
	}
	for _, f := range files {
		b, _ := os.ReadFile(f)
		os.WriteFile(filepath.Join(dir, filepath.Base(f)), b, 0o644)
	}
	return dir
}

func TestUpAppliesEveryMigrationThenReportsNoChanges(t *testing.T) {
	files := realMigrations(t)
	env := map[string]string{"DATABASE_URL": database(t), "MIGRATIONS_DIR": "../../migrations"}
	first := tool(env, "--up")
	if first.code != 0 || first.stdout != lines("applied ", files) {
		t.Fatalf("first --up: %+v", first)
	}
	again := tool(env, "--up")
	if again.code != 0 || again.stdout != "no changes\n" || again.stderr != "" {
		t.Fatalf("second --up: %+v", again)
	}
	status := tool(env, "--status")
	var want strings.Builder
	for _, n := range files {
		want.WriteString(`applied  ` + regexp.QuoteMeta(n) + `  \S+Z\n`)
	}
	if status.code != 0 || !regexp.MustCompile(`^`+want.String()+`$`).MatchString(status.stdout) {
		t.Fatalf("--status: %+v", status)
	}
	conn, err := pgx.Connect(context.Background(), env["DATABASE_URL"])
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var checksums int
	conn.QueryRow(context.Background(), "SELECT count(*) FROM schema_migrations WHERE checksum ~ '^[0-9a-f]{64}$'").Scan(&checksums)
	if checksums != len(files) {
		t.Fatalf("want %d recorded sha256 checksums, got %d", len(files), checksums)
	}
}

func TestStatusListsPendingMigrationsBeforeAnyRun(t *testing.T) {
	st := tool(map[string]string{"DATABASE_URL": database(t), "MIGRATIONS_DIR": "../../migrations"}, "--status")
	if st.code != 0 || st.stdout != lines("pending  ", realMigrations(t)) {
		t.Fatalf("%+v", st)
	}
}

func TestAnAppliedFileThatChangedIsRefusedByName(t *testing.T) {
	dir := migrationsCopy(t)
	env := map[string]string{"DATABASE_URL": database(t), "MIGRATIONS_DIR": dir}
	if r := tool(env, "--up"); r.code != 0 {
		t.Fatalf("%+v", r)
	}
	os.WriteFile(filepath.Join(dir, "0001_init.sql"), []byte("-- edited after it was applied\nSELECT 1;\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "9999_more.sql"), []byte("CREATE TABLE more (id int);\n"), 0o644)
	r := tool(env, "--up")
	if r.code != 1 || !strings.HasPrefix(r.stderr, "migrate_tool: 0001_init.sql changed after it was applied (recorded checksum ") || !strings.Contains(r.stderr, "put the change in a new migration") {
		t.Fatalf("%+v", r)
	}
	if r.stdout != "" {
		t.Fatalf("nothing may be applied after the refusal, got %q", r.stdout)
	}
	if st := tool(env, "--status"); st.code != 1 || !strings.Contains(st.stderr, "0001_init.sql changed after it was applied") {
		t.Fatalf("--status must refuse too: %+v", st)
	}
}

func TestAFailingMigrationIsRolledBackAndNamed(t *testing.T) {
	dir := migrationsCopy(t)
	os.WriteFile(filepath.Join(dir, "9999_broken.sql"), []byte("CREATE TABLE half (id int);\nSELECT * FROM no_such_table;\n"), 0o644)
	env := map[string]string{"DATABASE_URL": database(t), "MIGRATIONS_DIR": dir}
	r := tool(env, "--up")
	if r.code != 1 || r.stdout != lines("applied ", realMigrations(t)) || !strings.HasPrefix(r.stderr, "migrate_tool: 9999_broken.sql failed and was rolled back: ") {
		t.Fatalf("%+v", r)
	}
	conn, _ := pgx.Connect(context.Background(), env["DATABASE_URL"])
	defer conn.Close(context.Background())
	var half *string
	conn.QueryRow(context.Background(), "SELECT to_regclass('half')::text").Scan(&half)
	if half != nil {
		t.Fatal("the failed file's first statement was not rolled back")
	}
}

// What a failover does to a running migration: its server connection dies
// mid-file. Nothing of the file stays, and the message says to run again,
// not to fix the SQL.
func TestAMigrationWhoseConnectionDiesLeavesNothingAndSaysRunAgain(t *testing.T) {
	dir := migrationsCopy(t)
	os.WriteFile(filepath.Join(dir, "9999_cut.sql"), []byte("CREATE TABLE half (id int);\nSELECT pg_terminate_backend(pg_backend_pid());\n"), 0o644)
	env := map[string]string{"DATABASE_URL": database(t), "MIGRATIONS_DIR": dir}
	r := tool(env, "--up")
	if r.code != 1 || !strings.HasPrefix(r.stderr, "migrate_tool: 9999_cut.sql: the connection was lost before its commit was confirmed (") || !strings.Contains(r.stderr, "run --up again") {
		t.Fatalf("%+v", r)
	}
	conn, err := pgx.Connect(context.Background(), env["DATABASE_URL"])
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var half *string
	var recorded int
	conn.QueryRow(context.Background(), "SELECT to_regclass('half')::text").Scan(&half)
	conn.QueryRow(context.Background(), "SELECT count(*) FROM schema_migrations WHERE version = '9999_cut'").Scan(&recorded)
	if half != nil || recorded != 0 {
		t.Fatalf("the cut file left table %v and %d record(s)", half, recorded)
	}
}

func TestConcurrentRunsSerialiseOnTheAdvisoryLock(t *testing.T) {
	env := map[string]string{"DATABASE_URL": database(t), "MIGRATIONS_DIR": "../../migrations"}
	var wg sync.WaitGroup
	results := make([]result, 3)
	for i := range results {
		wg.Add(1)
		go func() { defer wg.Done(); results[i] = tool(env, "--up") }()
	}
	wg.Wait()
	applied := 0
	for _, r := range results {
		if r.code != 0 {
			t.Fatalf("%+v", r)
		}
		applied += strings.Count(r.stdout, "applied ")
	}
	if applied != len(realMigrations(t)) {
		t.Fatalf("each migration must be applied exactly once across the runs, got %d: %+v", applied, results)
	}
}

func TestBadUsageAndConfigurationExit2WithoutPrintingTheURL(t *testing.T) {
	for _, args := range [][]string{{}, {"--down"}, {"--up", "--status"}} {
		if r := tool(nil, args...); r.code != 2 || !strings.HasPrefix(r.stderr, "migrate_tool: expected exactly one of --up or --status") {
			t.Errorf("%v: %+v", args, r)
		}
	}
	if r := tool(nil, "--up"); r.code != 2 || !strings.HasPrefix(r.stderr, "migrate_tool: DATABASE_URL is not set") {
		t.Errorf("no DATABASE_URL: %+v", r)
	}
	secret := "Pa55-never-printed"
	// Nothing listens on port 9 (discard) on loopback.
	r := tool(map[string]string{"DATABASE_URL": "postgres://veza:" + secret + "@127.0.0.1:9/veza", "MIGRATIONS_DIR": "../../migrations"}, "--up")
	if r.code != 1 || !strings.HasPrefix(r.stderr, "migrate_tool: cannot connect to 127.0.0.1:9/veza: ") || strings.Contains(r.stdout+r.stderr, secret) {
		t.Errorf("unreachable database: %+v", r)
	}
	if strings.Count(r.stderr, "\n") != 1 {
		t.Errorf("one line expected: %q", r.stderr)
	}
}
