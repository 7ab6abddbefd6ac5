// Package contract reads the environment every Veza slot is started with
// (see libs/component-runtime/src/runtime.ts, the same rules for the Node
// tooling). Values are checked because a slot that starts with a malformed
// release or colour would report it on its status path and mislead the
// deploy's verification.
package contract

import (
	"fmt"
	"net"
	"regexp"
	"strconv"
)

var (
	releaseRe = regexp.MustCompile(`^([0-9a-f]{40}|local-[0-9a-f]{12})$`)
	colorRe   = regexp.MustCompile(`^(blue|green)$`)
	envRe     = regexp.MustCompile(`^[a-z][a-z0-9-]{0,30}$`)
	hostRe    = regexp.MustCompile(`^[A-Za-z0-9.:-]{1,253}$`)
	portRe    = regexp.MustCompile(`^[0-9]{1,5}$`)
)

// Config is what the deploy engine tells a slot. Empty optional values stay
// nil so the status JSON reports null, as the Node components did.
type Config struct {
	Host    string
	Port    int
	Release *string
	Color   *string
	Env     *string
}

// Addr is HOST:PORT in the form net.Listen takes, IPv6 literals bracketed.
func (c Config) Addr() string {
	return net.JoinHostPort(c.Host, strconv.Itoa(c.Port))
}

func optional(getenv func(string) string, name string, re *regexp.Regexp, hint string) (*string, error) {
	v := getenv(name)
	if v == "" {
		return nil, nil
	}
	if !re.MatchString(v) {
		return nil, fmt.Errorf("%s=%s is invalid — %s", name, strconv.Quote(v), hint)
	}
	return &v, nil
}

// Read returns the slot's configuration or an error whose message is the
// one line the component prints before exiting 2.
func Read(getenv func(string) string, defaultPort int) (Config, error) {
	cfg := Config{Host: "127.0.0.1", Port: defaultPort}
	if p := getenv("PORT"); p != "" {
		n, err := strconv.Atoi(p)
		if !portRe.MatchString(p) || err != nil || n > 65535 {
			return cfg, fmt.Errorf("PORT=%s is invalid — use a TCP port number 0-65535", strconv.Quote(p))
		}
		cfg.Port = n
	}
	host, err := optional(getenv, "HOST", hostRe, "use an IP address or host name")
	if err != nil {
		return cfg, err
	}
	if host != nil {
		cfg.Host = *host
	}
	if cfg.Release, err = optional(getenv, "VEZA_RELEASE_SHA", releaseRe, "use a 40-hex git SHA or local-<12 hex>"); err != nil {
		return cfg, err
	}
	if cfg.Color, err = optional(getenv, "VEZA_COLOR", colorRe, "use blue or green"); err != nil {
		return cfg, err
	}
	if cfg.Env, err = optional(getenv, "VEZA_ENV", envRe, "use a lower-case environment name such as staging"); err != nil {
		return cfg, err
	}
	return cfg, nil
}

// Or prints a nil optional as "none", for the one start line.
func Or(v *string) string {
	if v == nil {
		return "none"
	}
	return *v
}
