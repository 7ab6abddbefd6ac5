package contract

import (
	"strings"
	"testing"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestReadAcceptsTheDeployContract(t *testing.T) {
	sha := strings.Repeat("a", 40)
	cfg, err := Read(env(map[string]string{"HOST": "127.77.0.10", "PORT": "8080", "VEZA_RELEASE_SHA": sha, "VEZA_COLOR": "green", "VEZA_ENV": "staging"}), 1)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Addr() != "127.77.0.10:8080" || *cfg.Release != sha || *cfg.Color != "green" || *cfg.Env != "staging" {
		t.Fatalf("unexpected config %+v", cfg)
	}
	local, err := Read(env(map[string]string{"VEZA_RELEASE_SHA": "local-0123456789ab"}), 9000)
	if err != nil || *local.Release != "local-0123456789ab" || local.Addr() != "127.0.0.1:9000" || local.Color != nil || local.Env != nil {
		t.Fatalf("a dirty-tree release and the defaults: %+v %v", local, err)
	}
	v6, _ := Read(env(map[string]string{"HOST": "::1", "PORT": "0"}), 1)
	if v6.Addr() != "[::1]:0" {
		t.Fatalf("IPv6 host: %s", v6.Addr())
	}
}

func TestReadRefusesMalformedValuesWithOneLineNamingTheVariable(t *testing.T) {
	cases := map[string]map[string]string{
		`VEZA_RELEASE_SHA="abc" is invalid — use a 40-hex git SHA or local-<12 hex>`: {"VEZA_RELEASE_SHA": "abc"},
		`VEZA_RELEASE_SHA="` + strings.Repeat("A", 40) + `" is invalid`:              {"VEZA_RELEASE_SHA": strings.Repeat("A", 40)},
		`VEZA_COLOR="purple" is invalid — use blue or green`:                         {"VEZA_COLOR": "purple"},
		`VEZA_ENV="Prod" is invalid`:                                                 {"VEZA_ENV": "Prod"},
		`PORT="70000" is invalid`:                                                    {"PORT": "70000"},
		`PORT="-1" is invalid`:                                                       {"PORT": "-1"},
		`HOST="a b" is invalid`:                                                      {"HOST": "a b"},
	}
	for want, vars := range cases {
		_, err := Read(env(vars), 1)
		if err == nil || !strings.HasPrefix(err.Error(), want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%v: got %v, want one line starting %q", vars, err, want)
		}
	}
}
