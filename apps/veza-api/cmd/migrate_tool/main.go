// migrate_tool --up | --status: the deploy's phase A, run from the tools
// slot. Exit codes: 0 done, 1 the database or a migration failed, 2 bad
// usage or configuration. "no changes" on stdout is the contract the deploy
// reads to report that nothing changed.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"veza.invalid/veza-api/internal/dburl"
	"veza.invalid/veza-api/internal/migrate"
)

const usage = "usage: migrate_tool --up | --status (DATABASE_URL from the environment, MIGRATIONS_DIR optional)"

// release is stamped by the build (-X main.release=<sha>); it only labels --help.
var release = "dev"

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	mode := ""
	if len(args) == 1 {
		mode = args[0]
	}
	switch mode {
	case "--help":
		fmt.Fprintf(stdout, "%s\nmigrate_tool %s\n", usage, release)
		return 0
	case "--up", "--status":
	default:
		got := "nothing"
		if len(args) > 0 {
			quoted := make([]string, len(args))
			for i, a := range args {
				if len(a) > 40 {
					a = a[:40]
				}
				quoted[i] = strconv.Quote(a)
			}
			got = strings.Join(quoted, " ")
		}
		fmt.Fprintf(stderr, "migrate_tool: expected exactly one of --up or --status, got %s — %s\n", got, usage)
		return 2
	}
	target, err := dburl.Parse(getenv("DATABASE_URL"))
	if err != nil {
		fmt.Fprintf(stderr, "migrate_tool: %s\n", err)
		return 2
	}
	if err := migrateDB(ctx, mode, target, getenv, stdout, stderr); err != nil {
		fmt.Fprintf(stderr, "migrate_tool: %s\n", target.Scrub(oneLine(err.Error())))
		return 1
	}
	return 0
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func migrateDB(ctx context.Context, mode string, target dburl.Target, getenv func(string) string, stdout, stderr io.Writer) error {
	dir, err := migrate.Dir(getenv)
	if err != nil {
		return err
	}
	migrations, err := migrate.Load(dir)
	if err != nil {
		return err
	}
	cfg, err := pgx.ParseConfig(target.URL)
	if err != nil {
		return errors.New("DATABASE_URL cannot be parsed as a PostgreSQL URL — use postgres://user:password@host:port/db")
	}
	cfg.ConnectTimeout = 10 * time.Second
	dburl.ForTransactionPooling(cfg)
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("cannot connect to %s: %v — check DATABASE_URL and that Postgres is running", target.Label, err)
	}
	defer conn.Close(context.Background())

	if mode == "--status" {
		applied, err := migrate.ReadApplied(ctx, conn)
		if err != nil {
			return err
		}
		states, unknown, err := migrate.Plan(migrations, applied)
		if err != nil {
			return err
		}
		for _, s := range states {
			if s.Applied != nil {
				fmt.Fprintf(stdout, "applied  %s  %s\n", s.Migration.File, s.Applied.AppliedAt.UTC().Format(time.RFC3339))
			} else {
				fmt.Fprintf(stdout, "pending  %s\n", s.Migration.File)
			}
		}
		for _, u := range unknown {
			fmt.Fprintf(stdout, "applied  %s.sql  %s  (not in this release)\n", u.Version, u.AppliedAt.UTC().Format(time.RFC3339))
		}
		return nil
	}
	done, unknown, err := migrate.ApplyPending(ctx, conn, migrations, time.Minute)
	for _, u := range unknown {
		fmt.Fprintf(stderr, "migrate_tool: note: %s is applied but not in this release (an older release running against a newer schema)\n", u.Version)
	}
	for _, m := range done {
		fmt.Fprintf(stdout, "applied %s\n", m.File)
	}
	if err != nil {
		return err
	}
	if len(done) == 0 {
		fmt.Fprintln(stdout, "no changes")
	}
	return nil
}
