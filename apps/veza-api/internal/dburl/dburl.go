// Package dburl checks DATABASE_URL. It carries the database password, so
// nothing derived from it is printed except host:port/db, and driver
// messages are scrubbed of the password in case one ever echoes it.
package dburl

import (
	"errors"
	"net/url"
	"strings"

	"github.com/jackc/pgx/v5"
)

type Target struct {
	URL string
	// Label is host:port/db, safe to print.
	Label   string
	secrets []string
}

// Scrub replaces every spelling of the password in text.
func (t Target) Scrub(text string) string {
	for _, s := range t.secrets {
		text = strings.ReplaceAll(text, s, "***")
	}
	return text
}

// Parse reads DATABASE_URL's value; the error is the one line to print.
func Parse(raw string) (Target, error) {
	if raw == "" {
		return Target{}, errors.New("DATABASE_URL is not set — export the Postgres URL (postgres://user:password@host:port/db) in the environment; it is never taken from arguments")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return Target{}, errors.New("DATABASE_URL is not a valid URL — use postgres://user:password@host:port/db")
	}
	if u.Scheme != "postgres" && u.Scheme != "postgresql" {
		return Target{}, errors.New("DATABASE_URL has scheme " + u.Scheme + ": — use postgres://user:password@host:port/db")
	}
	t := Target{URL: raw}
	if pw, ok := u.User.Password(); ok && pw != "" {
		t.secrets = append(t.secrets, pw, url.QueryEscape(pw), url.PathEscape(pw))
	}
	host, port := u.Hostname(), u.Port()
	if host == "" {
		// A unix-socket URL names its directory in ?host=.
		host = u.Query().Get("host")
	}
	if port == "" {
		port = "5432"
	}
	t.Label = host + ":" + port + u.Path
	return t, nil
}

// ForTransactionPooling makes a connection safe behind PgBouncer in
// transaction mode (the HA topology's DATABASE_URL): no named prepared
// statements, which live on one server connection while the client's next
// transaction may run on another. Each query goes out as one
// parse-bind-execute with an unnamed statement.
func ForTransactionPooling(c *pgx.ConnConfig) {
	c.DefaultQueryExecMode = pgx.QueryExecModeExec
}
