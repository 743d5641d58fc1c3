package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"time"
)

// Result is the summary of one run. Its JSON form (-json) is stable: fields
// are only ever added.
type Result struct {
	Scenario    string  `json:"scenario"`
	URL         string  `json:"url,omitempty"`
	Run         string  `json:"run,omitempty"`
	Concurrency int     `json:"concurrency"`
	ElapsedS    float64 `json:"elapsed_s"`

	Total  int `json:"total"`  // operations completed
	OK     int `json:"ok"`     // of which succeeded
	Errors int `json:"errors"` // of which failed

	// OpsPerSec counts successful operations only.
	OpsPerSec float64 `json:"ops_per_sec"`
	// Requests counts every HTTP request sent, failed ones included.
	Requests       int     `json:"requests"`
	RequestsPerSec float64 `json:"requests_per_sec"`

	// Latency is of whole operations (all their requests), failed ones
	// included, in milliseconds.
	Latency Latency `json:"latency_ms"`
	// Steps are the latencies of each kind of request of an operation.
	Steps []Step `json:"steps,omitempty"`

	// ErrorsByStatus counts failed operations by step, status and reason,
	// such as "submit 429" or "start timeout"; ErrorSamples holds one
	// description for each.
	ErrorsByStatus map[string]int    `json:"errors_by_status"`
	ErrorSamples   map[string]string `json:"error_samples,omitempty"`

	// Ceiling is the -ceiling given, in hashes/s; CeilingPct is OpsPerSec
	// as a percentage of it (register and login do one hash each).
	Ceiling    float64 `json:"ceiling_hashes_per_sec,omitempty"`
	CeilingPct float64 `json:"ceiling_pct,omitempty"`

	Note string `json:"note,omitempty"`
}

// Latency holds nearest-rank percentiles and the mean, in milliseconds.
type Latency struct {
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	Max  float64 `json:"max"`
	Mean float64 `json:"mean"`
}

// Step is the latency of one kind of request.
type Step struct {
	Name    string  `json:"name"`
	Count   int     `json:"count"`
	Latency Latency `json:"latency_ms"`
}

func summarise(opt *options, elapsed time.Duration, tallies []*tally) *Result {
	r := &Result{
		Scenario: opt.scenario, Run: opt.runID, Concurrency: opt.concurrency, ElapsedS: elapsed.Seconds(),
		ErrorsByStatus: map[string]int{}, ErrorSamples: map[string]string{},
	}
	if opt.scenario != "hash" {
		r.URL = opt.url
	} else {
		r.Run = ""
	}
	var all []time.Duration
	steps := map[string][]time.Duration{}
	var order []string
	for _, t := range tallies {
		all = append(all, t.latencies...)
		r.OK += t.ok
		r.Requests += t.requests
		for _, name := range t.stepOrder {
			if _, ok := steps[name]; !ok {
				order = append(order, name)
			}
			steps[name] = append(steps[name], t.steps[name]...)
		}
		for k, n := range t.failures {
			r.ErrorsByStatus[k] += n
			r.Errors += n
			if _, ok := r.ErrorSamples[k]; !ok {
				r.ErrorSamples[k] = t.samples[k]
			}
		}
	}
	r.Total = len(all)
	if s := elapsed.Seconds(); s > 0 {
		r.OpsPerSec = float64(r.OK) / s
		r.RequestsPerSec = float64(r.Requests) / s
	}
	r.Latency = latency(all)
	for _, name := range order {
		r.Steps = append(r.Steps, Step{Name: name, Count: len(steps[name]), Latency: latency(steps[name])})
	}
	if opt.ceiling > 0 && (opt.scenario == "register" || opt.scenario == "login") {
		r.Ceiling = opt.ceiling
		r.CeilingPct = 100 * r.OpsPerSec / opt.ceiling
	}
	return r
}

// latency sorts ds in place and returns its nearest-rank percentiles.
func latency(ds []time.Duration) Latency {
	if len(ds) == 0 {
		return Latency{}
	}
	slices.Sort(ds)
	rank := func(q float64) float64 {
		i := int(q*float64(len(ds))+0.999999999) - 1
		i = min(max(i, 0), len(ds)-1)
		return ms(ds[i])
	}
	var sum time.Duration
	for _, d := range ds {
		sum += d
	}
	return Latency{P50: rank(0.50), P90: rank(0.90), P99: rank(0.99), Max: ms(ds[len(ds)-1]), Mean: ms(sum / time.Duration(len(ds)))}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func (r *Result) writeJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

func (r *Result) writeJSONFile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := r.writeJSON(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// writeText prints r in the stable text format described in README.md:
// a header line, then indented "key  values" lines.
func (r *Result) writeText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s", r.Scenario)
	if r.URL != "" {
		fmt.Fprintf(&b, "  url=%s", r.URL)
	}
	fmt.Fprintf(&b, "  c=%d  elapsed=%.2fs", r.Concurrency, r.ElapsedS)
	if r.Run != "" {
		fmt.Fprintf(&b, "  run=%s", r.Run)
	}
	b.WriteString("\n")
	unit := "ops/s"
	if r.Scenario == "hash" {
		unit = "hashes/s"
	}
	fmt.Fprintf(&b, "  throughput  %.2f %s", r.OpsPerSec, unit)
	if r.Scenario != "hash" {
		fmt.Fprintf(&b, "  %.2f req/s", r.RequestsPerSec)
	}
	if r.Ceiling > 0 {
		fmt.Fprintf(&b, "  %.1f%% of ceiling %.2f hashes/s", r.CeilingPct, r.Ceiling)
	}
	b.WriteString("\n")
	fmt.Fprintf(&b, "  operations  total=%d  ok=%d  errors=%d", r.Total, r.OK, r.Errors)
	if r.Scenario != "hash" {
		fmt.Fprintf(&b, "  requests=%d", r.Requests)
	}
	b.WriteString("\n")
	fmt.Fprintf(&b, "  latency     %s\n", r.Latency)
	width := 0
	for _, s := range r.Steps {
		width = max(width, len(s.Name))
	}
	for _, s := range r.Steps {
		fmt.Fprintf(&b, "  step %-*s  n=%d  %s\n", width, s.Name, s.Count, s.Latency)
	}
	if r.Errors == 0 {
		b.WriteString("  errors      none\n")
	} else {
		keys := slices.Sorted(maps.Keys(r.ErrorsByStatus))
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = fmt.Sprintf("%s: %d", k, r.ErrorsByStatus[k])
		}
		fmt.Fprintf(&b, "  errors      %s\n", strings.Join(parts, ", "))
		for _, k := range keys {
			fmt.Fprintf(&b, "    %s: %s\n", k, r.ErrorSamples[k])
		}
	}
	if r.Note != "" {
		fmt.Fprintf(&b, "  note        %s\n", r.Note)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// String formats the percentiles for the text report.
func (l Latency) String() string {
	return fmt.Sprintf("p50=%s  p90=%s  p99=%s  max=%s  mean=%s", fmtMS(l.P50), fmtMS(l.P90), fmtMS(l.P99), fmtMS(l.Max), fmtMS(l.Mean))
}

func fmtMS(v float64) string { return fmt.Sprintf("%.2fms", v) }
