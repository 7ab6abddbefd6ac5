// Command veza-otelcol is the OpenTelemetry collector the pipeline runs
// (issue 16, seed 84e92a75e2): a minimal distribution built from the
// collector's own Go modules, all at one release (go.mod), with only what
// the Veza apps' traces need — the OTLP receiver (gRPC and HTTP), the batch
// processor, the debug exporter for the collector's log, and spanfile, which
// appends every received batch as one OTLP/JSON line to a file.
//
// tools/scripts/otelcol-build.sh builds it once per go.sum into the tools cache.
package main

import (
	"fmt"
	"os"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/provider/fileprovider"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/debugexporter"
	"go.opentelemetry.io/collector/otelcol"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/batchprocessor"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/otlpreceiver"
	"go.opentelemetry.io/collector/service/telemetry/otelconftelemetry"

	"veza.invalid/otelcol/spanfile"
)

// version is set by the build script (-ldflags -X) to the go.sum digest it was cached under.
var version = "dev"

func components() (otelcol.Factories, error) {
	// The collector's own logs (and metrics, switched off in the rendered config).
	f := otelcol.Factories{Telemetry: otelconftelemetry.NewFactory()}
	var err error
	if f.Receivers, err = otelcol.MakeFactoryMap[receiver.Factory](otlpreceiver.NewFactory()); err != nil {
		return f, err
	}
	if f.Processors, err = otelcol.MakeFactoryMap[processor.Factory](batchprocessor.NewFactory()); err != nil {
		return f, err
	}
	f.Exporters, err = otelcol.MakeFactoryMap[exporter.Factory](debugexporter.NewFactory(), spanfile.NewFactory())
	return f, err
}

func main() {
	set := otelcol.CollectorSettings{
		BuildInfo: component.BuildInfo{Command: "veza-otelcol", Description: "Veza's OpenTelemetry collector", Version: version},
		Factories: components,
		ConfigProviderSettings: otelcol.ConfigProviderSettings{
			// Only files: the pipeline renders the configuration, nothing is fetched.
			ResolverSettings: confmap.ResolverSettings{ProviderFactories: []confmap.ProviderFactory{fileprovider.NewFactory()}, DefaultScheme: "file"},
		},
	}
	if err := otelcol.NewCommand(set).Execute(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
