package dburl

import (
	"strings"
	"testing"
)

func TestParseLabelsWithoutThePasswordAndScrubsIt(t *testing.T) {
	tg, err := Parse("postgres://veza:s3cr%2Ft@db.internal:6432/veza")
	if err != nil {
		t.Fatal(err)
	}
	if tg.Label != "db.internal:6432/veza" {
		t.Fatalf("label %q", tg.Label)
	}
	got := tg.Scrub(`password authentication failed for "s3cr/t" (s3cr%2Ft)`)
	if strings.Contains(got, "s3cr") {
		t.Fatalf("not scrubbed: %s", got)
	}
}

func TestParseRefusesMissingOrForeignURLs(t *testing.T) {
	for raw, want := range map[string]string{
		"":                    "DATABASE_URL is not set — ",
		"mysql://u:p@h/db":    "DATABASE_URL has scheme mysql: — ",
		"postgres://%zz@h/db": "DATABASE_URL is not a valid URL — ",
	} {
		if _, err := Parse(raw); err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%q: got %v, want %q…", raw, err, want)
		}
	}
}
