package telemetry

import (
	"context"
	"fmt"
	"os"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
)

// NewTracerProvider returns the tracer provider of tracing.enabled: it
// batches spans to the OTLP/HTTP endpoint that the standard variables
// configure (OTEL_EXPORTER_OTLP_ENDPOINT or …_TRACES_ENDPOINT, default
// http://localhost:4318; OTEL_EXPORTER_OTLP_HEADERS …), names the service
// after OTEL_SERVICE_NAME (default foyer) and OTEL_RESOURCE_ATTRIBUTES,
// and samples as OTEL_TRACES_SAMPLER says (default: every trace, or as
// the caller's traceparent decided). OTEL_TRACES_EXPORTER=none returns
// nil: no tracing. Call Shutdown to send what it holds before exit.
//
// Nothing is dialled here: a collector that is away costs the spans it
// misses (the exporter's errors go to otel's error handler), never a
// request.
func NewTracerProvider(ctx context.Context) (*sdktrace.TracerProvider, error) {
	switch exp := os.Getenv("OTEL_TRACES_EXPORTER"); exp {
	case "", "otlp":
	case "none":
		return nil, nil
	default:
		return nil, fmt.Errorf("OTEL_TRACES_EXPORTER=%s: Foyer exports traces with otlp (over HTTP), or none", exp)
	}
	// The variable for traces wins over the general one.
	for _, key := range []string{"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"} {
		if v := os.Getenv(key); v != "" {
			if v != "http/protobuf" {
				return nil, fmt.Errorf("%s=%s: Foyer sends traces over OTLP/HTTP (http/protobuf, port 4318 by default), not gRPC", key, v)
			}
			break
		}
	}
	exporter, err := otlptracehttp.New(ctx)
	if err != nil {
		return nil, fmt.Errorf("tracing: OTLP exporter: %w", err)
	}
	// Later detectors win: the environment names the service if it says.
	res, err := resource.New(ctx, resource.WithAttributes(semconv.ServiceName("foyer")),
		resource.WithFromEnv(), resource.WithTelemetrySDK())
	if err != nil {
		return nil, fmt.Errorf("tracing: resource (OTEL_RESOURCE_ATTRIBUTES?): %w", err)
	}
	return sdktrace.NewTracerProvider(sdktrace.WithBatcher(exporter), sdktrace.WithResource(res)), nil
}
