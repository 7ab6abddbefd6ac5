// veza-api: the Veza API slot. HOST, PORT, VEZA_RELEASE_SHA, VEZA_COLOR,
// VEZA_ENV and DATABASE_URL come from the environment the deploy writes;
// a malformed value is refused with one line and exit 2. With
// OTEL_EXPORTER_OTLP_ENDPOINT set, request and database spans go to that
// OTLP/HTTP collector (internal/tracing); without it, none are made.
package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"veza.invalid/veza-api/internal/api"
	"veza.invalid/veza-api/internal/contract"
	"veza.invalid/veza-api/internal/dburl"
	"veza.invalid/veza-api/internal/tracing"
)

const (
	component   = "veza-api"
	defaultPort = 8080
)

// release is stamped by the build: -ldflags "-X main.release=<sha>".
var release = "dev"

func main() {
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
	os.Exit(run(os.Getenv, os.Stdout, os.Stderr, signals))
}

func run(getenv func(string) string, stdout, stderr io.Writer, signals <-chan os.Signal) int {
	cfg, err := contract.Read(getenv, defaultPort)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %s\n", component, err)
		return 2
	}
	db, err := dburl.Parse(getenv("DATABASE_URL"))
	if err != nil {
		fmt.Fprintf(stderr, "%s: %s\n", component, err)
		return 2
	}
	tp, stopTracing, err := tracing.Setup(getenv, component, release)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %s\n", component, err)
		return 2
	}
	// Spans still buffered are sent on the way out, whatever the exit.
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := stopTracing(ctx); err != nil {
			fmt.Fprintf(stderr, "%s: flushing spans: %v\n", component, err)
		}
	}()
	srv, err := api.New(api.Config{Release: cfg.Release, Color: cfg.Color, Env: cfg.Env, Build: release, DatabaseURL: db.URL, Tracing: tp})
	if err != nil {
		fmt.Fprintf(stderr, "%s: %s\n", component, db.Scrub(err.Error()))
		return 2
	}
	ln, err := net.Listen("tcp", cfg.Addr())
	if err != nil {
		fmt.Fprintf(stderr, "%s: cannot listen on %s: %v — free the port or set PORT/HOST\n", component, cfg.Addr(), err)
		return 1
	}
	fmt.Fprintf(stdout, "%s start listen=%s release=%s color=%s env=%s\n", component, ln.Addr(), contract.Or(cfg.Release), contract.Or(cfg.Color), contract.Or(cfg.Env))
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		fmt.Fprintf(stderr, "%s: stopped serving: %v\n", component, err)
		return 1
	case sig := <-signals:
		if err := srv.Shutdown(); err != nil {
			fmt.Fprintf(stderr, "%s: error while stopping: %v\n", component, err)
			return 1
		}
		<-served
		fmt.Fprintf(stdout, "%s stop signal=%s\n", component, signalName(sig))
		return 0
	}
}

func signalName(s os.Signal) string {
	switch s {
	case syscall.SIGTERM:
		return "SIGTERM"
	case syscall.SIGINT:
		return "SIGINT"
	}
	return s.String()
}
