// Package migrate applies migrations/NNNN_name.sql files to PostgreSQL in
// filename order, each in its own transaction, recorded in
// schema_migrations with a checksum so a file edited after it was applied is
// caught. The table and lock key are the ones the Node migrate_tool used, so
// databases it migrated carry on.
package migrate

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

const (
	table = "schema_migrations"
	// Any fixed 64-bit key works; it only has to be the same for every run of this tool.
	lockKey        int64 = 7342016395716021
	undefinedTable       = "42P01"
)

var fileRe = regexp.MustCompile(`^\d{4}_[a-z0-9_]+\.sql$`)

type Migration struct {
	Version  string
	File     string
	SQL      string
	Checksum string
}

type Applied struct {
	Version   string
	AppliedAt time.Time
	Checksum  string
}

type State struct {
	Migration Migration
	Applied   *Applied
}

// Error is a failure whose message already says what to do; the tool prints it as is.
type Error struct{ msg string }

func (e *Error) Error() string { return e.msg }

func fail(format string, args ...any) error { return &Error{fmt.Sprintf(format, args...)} }

// Load reads every .sql file of dir, refusing badly named ones.
func Load(dir string) ([]Migration, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fail("cannot read the migrations folder %s: %v — set MIGRATIONS_DIR or run from an unpacked veza-api artifact", dir, err)
	}
	var out []Migration
	var bad []string
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".sql") {
			continue
		}
		if !fileRe.MatchString(name) {
			bad = append(bad, name)
			continue
		}
		body, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(body)
		out = append(out, Migration{Version: strings.TrimSuffix(name, ".sql"), File: name, SQL: string(body), Checksum: hex.EncodeToString(sum[:])})
	}
	if len(bad) > 0 {
		return nil, fail("badly named migration %s in %s — name files NNNN_lower_snake.sql", strings.Join(bad, ", "), dir)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].File < out[j].File })
	return out, nil
}

// Dir is MIGRATIONS_DIR when set, else migrations/ beside the executable
// (the unpacked artifact's root).
func Dir(getenv func(string) string) (string, error) {
	if d := getenv("MIGRATIONS_DIR"); d != "" {
		return d, nil
	}
	exe, err := os.Executable()
	if err != nil {
		return "", fail("cannot locate this executable (%v) — set MIGRATIONS_DIR", err)
	}
	return filepath.Join(filepath.Dir(exe), "migrations"), nil
}

// ReadApplied lists the recorded migrations; none when the table does not exist yet.
func ReadApplied(ctx context.Context, conn *pgx.Conn) ([]Applied, error) {
	var exists *string
	if err := conn.QueryRow(ctx, "SELECT to_regclass($1)::text", table).Scan(&exists); err != nil {
		return nil, err
	}
	if exists == nil {
		return nil, nil
	}
	rows, err := conn.Query(ctx, "SELECT version, applied_at, checksum FROM "+table+" ORDER BY version")
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Applied, error) {
		var a Applied
		err := r.Scan(&a.Version, &a.AppliedAt, &a.Checksum)
		return a, err
	})
}

// Plan pairs files with their records and refuses an applied file whose
// content changed. Records with no file are returned as unknown: this tool
// is older than the database, as during a rollback — not an error.
func Plan(migrations []Migration, applied []Applied) ([]State, []Applied, error) {
	byVersion := map[string]Applied{}
	for _, a := range applied {
		byVersion[a.Version] = a
	}
	known := map[string]bool{}
	states := make([]State, 0, len(migrations))
	for _, m := range migrations {
		known[m.Version] = true
		s := State{Migration: m}
		if a, ok := byVersion[m.Version]; ok {
			if a.Checksum != m.Checksum {
				return nil, nil, fail("%s changed after it was applied (recorded checksum %s, file %s) — restore the file and put the change in a new migration", m.File, a.Checksum[:12], m.Checksum[:12])
			}
			s.Applied = &a
		}
		states = append(states, s)
	}
	var unknown []Applied
	for _, a := range applied {
		if !known[a.Version] {
			unknown = append(unknown, a)
		}
	}
	return states, unknown, nil
}

// ApplyPending applies every pending migration, each in a transaction of
// its own that first takes a transaction-scoped advisory lock and re-reads
// the record under it: two runs started at once serialise file by file, and
// each file is applied by exactly one of them. Nothing outlives a
// transaction (no session lock, no session setting), so the tool is safe
// through PgBouncer in transaction mode, where consecutive transactions of
// one client may run on different server connections. It returns what it
// applied, in order.
func ApplyPending(ctx context.Context, conn *pgx.Conn, migrations []Migration, lockTimeout time.Duration) (done []Migration, unknown []Applied, err error) {
	applied, err := ReadApplied(ctx, conn)
	if err != nil {
		return nil, nil, err
	}
	states, unknown, err := Plan(migrations, applied)
	if err != nil {
		return nil, nil, err
	}
	for _, s := range states {
		if s.Applied != nil {
			continue
		}
		ran, err := applyOne(ctx, conn, s.Migration, lockTimeout)
		if err != nil {
			return done, unknown, err
		}
		if ran {
			done = append(done, s.Migration)
		}
	}
	return done, unknown, nil
}

// applyOne applies m unless another run recorded it while this one waited
// for the lock; false then.
func applyOne(ctx context.Context, conn *pgx.Conn, m Migration, lockTimeout time.Duration) (ran bool, err error) {
	err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT set_config('lock_timeout', $1, true)", fmt.Sprintf("%dms", lockTimeout.Milliseconds())); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", lockKey); err != nil {
			return fail("could not take the migration lock within %s: %v — another migrate_tool run is still going; wait for it and retry", lockTimeout, err)
		}
		if _, err := tx.Exec(ctx, "CREATE TABLE IF NOT EXISTS "+table+" (version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now(), checksum text NOT NULL)"); err != nil {
			return err
		}
		var recorded string
		switch err := tx.QueryRow(ctx, "SELECT checksum FROM "+table+" WHERE version = $1", m.Version).Scan(&recorded); {
		case err == nil:
			if recorded != m.Checksum {
				return fail("%s changed after it was applied (recorded checksum %s, file %s) — restore the file and put the change in a new migration", m.File, recorded[:12], m.Checksum[:12])
			}
			return nil
		case !errors.Is(err, pgx.ErrNoRows):
			return err
		}
		// No arguments: pgx sends it over the simple protocol, which allows several statements.
		if _, err := tx.Exec(ctx, m.SQL); err != nil {
			return &sqlFailure{err}
		}
		if _, err := tx.Exec(ctx, "INSERT INTO "+table+" (version, checksum) VALUES ($1, $2)", m.Version, m.Checksum); err != nil {
			return err
		}
		ran = true
		return nil
	})
	var sql *sqlFailure
	switch {
	case err == nil:
		return ran, nil
	case conn.IsClosed():
		// A failover or a restart took the connection, maybe after the commit left:
		// the file and its record took effect together or not at all.
		return false, fail("%s: the connection was lost before its commit was confirmed (%v) — the file and its record commit together or not at all; run --up again, which applies it only if it is not recorded", m.File, err)
	case errors.As(err, &sql):
		return false, fail("%s failed and was rolled back: %v — fix the SQL and run --up again", m.File, sql.err)
	default:
		return false, err
	}
}

// sqlFailure is a migration file's own SQL failing, as opposed to the bookkeeping around it.
type sqlFailure struct{ err error }

func (e *sqlFailure) Error() string { return e.err.Error() }
func (e *sqlFailure) Unwrap() error { return e.err }

// Querier is what LatestVersion needs: a connection or a pool.
type Querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// LatestVersion is the newest applied version, or nil when nothing (or no table) is there yet.
func LatestVersion(ctx context.Context, q Querier) (*string, error) {
	var v *string
	err := q.QueryRow(ctx, "SELECT max(version) FROM "+table).Scan(&v)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == undefinedTable {
		return nil, nil
	}
	return v, err
}
