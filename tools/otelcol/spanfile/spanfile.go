// Package spanfile is a trace exporter that appends each batch it receives
// as one line of OTLP/JSON to a file: what a test or an operator reads to see
// which spans reached the collector, with their resource (service.name).
// Built on the core exporterhelper so it stays at the collector's release.
package spanfile

import (
	"context"
	"errors"
	"os"
	"sync"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/exporterhelper"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// Config names the file; it is created if missing and appended to otherwise.
type Config struct {
	Path string `mapstructure:"path"`
}

// Validate refuses a missing path when the collector loads its configuration, before anything starts.
func (c *Config) Validate() error {
	if c.Path == "" {
		return errors.New("path is empty: set exporters.spanfile.path to the file the spans go to")
	}
	return nil
}

// NewFactory registers the exporter as "spanfile".
func NewFactory() exporter.Factory {
	return exporter.NewFactory(component.MustNewType("spanfile"), func() component.Config { return &Config{} },
		exporter.WithTraces(create, component.StabilityLevelDevelopment))
}

type fileExporter struct {
	path string
	mu   sync.Mutex
	file *os.File
}

func create(ctx context.Context, set exporter.Settings, cfg component.Config) (exporter.Traces, error) {
	e := &fileExporter{path: cfg.(*Config).Path}
	return exporterhelper.NewTraces(ctx, set, cfg, e.push,
		exporterhelper.WithStart(e.start), exporterhelper.WithShutdown(e.shutdown),
		exporterhelper.WithCapabilities(consumer.Capabilities{MutatesData: false}))
}

func (e *fileExporter) start(context.Context, component.Host) error {
	f, err := os.OpenFile(e.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	e.file = f
	return err
}

func (e *fileExporter) push(_ context.Context, td ptrace.Traces) error {
	line, err := (&ptrace.JSONMarshaler{}).MarshalTraces(td)
	if err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	// One write per batch, newline included, so a reader never sees half a line followed by another batch.
	_, err = e.file.Write(append(line, '\n'))
	return err
}

func (e *fileExporter) shutdown(context.Context) error {
	if e.file == nil {
		return nil
	}
	return e.file.Close()
}
