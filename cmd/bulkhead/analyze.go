package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"golang.org/x/term"

	"bulkhead.dev/bulkhead/l7"
	"bulkhead.dev/bulkhead/l7/capture"
)

func init() {
	register(command{
		name:    "analyze",
		usage:   "[--format json|table] [--max-flows N] [--idle-timeout D] [--max-buffer BYTES] [--max-buffer-total BYTES] [-v] FILE...",
		summary: "identify the applications in pcap/pcapng captures and print one line per flow",
		run:     runAnalyze,
	})
}

// progressMinSize is the smallest file that gets a progress bar.
const progressMinSize = 16 << 20

func runAnalyze(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("analyze", stderr)
	format := fs.String("format", "", `output format: "json" (one object per line; the default when stdout is not a terminal) or "table"`)
	maxFlows := fs.Int("max-flows", capture.DefaultMaxFlows, "flows tracked at once; beyond, the least recently seen is finished early")
	idle := fs.Duration("idle-timeout", capture.DefaultIdleTimeout, "finish a flow idle this long (capture time)")
	maxBuf := fs.Int("max-buffer", l7.DefaultMaxBuffer, "TCP reassembly limit per direction, in bytes")
	maxBufTotal := fs.Int64("max-buffer-total", capture.DefaultMaxBufferTotal, "TCP reassembly buffers of all flows together, in bytes")
	verbose := fs.Bool("v", false, "log input oddities and each file's packet counts (not IP, malformed, fragments, evicted flows) to stderr")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return usagef("no capture file given")
	}
	switch *format {
	case "":
		*format = "json"
		if isTerminal(stdout) {
			*format = "table"
		}
	case "json", "table":
	default:
		return usagef("unknown format %q (want json or table)", *format)
	}
	for _, c := range []struct {
		flag  string
		value any
		ok    bool
	}{
		{"max-flows", *maxFlows, *maxFlows > 0},
		{"idle-timeout", *idle, *idle > 0},
		{"max-buffer", *maxBuf, *maxBuf > 0},
		{"max-buffer-total", *maxBufTotal, *maxBufTotal > 0},
	} {
		if !c.ok {
			return usagef("--%s must be positive, got %v", c.flag, c.value)
		}
	}
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelDebug
	}
	// The files of one command share what Kafka responses name (topic ids
	// → names): a capture rotated into several files keeps its names.
	opts := capture.Options{
		Engine: l7.Config{MaxBuffer: *maxBuf, MaxBufferTotal: *maxBufTotal,
			Parser: l7.ParserConfig{KafkaTopics: l7.NewKafkaTopics(l7.DefaultKafkaTopics)}},
		MaxFlows:    *maxFlows,
		IdleTimeout: *idle,
		Logger:      slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level})),
	}
	out := bufio.NewWriterSize(stdout, 256<<10)
	failed := 0
	for _, name := range fs.Args() {
		if err := analyzeFile(ctx, name, *format, opts, out, stderr); err != nil {
			failed++
			fmt.Fprintf(stderr, "bulkhead analyze: %v\n", err)
			if errors.Is(err, context.Canceled) {
				break
			}
		}
	}
	if err := out.Flush(); err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	if failed > 0 {
		return &exitError{code: 1, err: fmt.Errorf("%d of %d files could not be analysed", failed, fs.NArg())}
	}
	return nil
}

// analyzeFile writes the flows of one capture to out.
func analyzeFile(ctx context.Context, name, format string, opts capture.Options, out *bufio.Writer, stderr io.Writer) error {
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Size() >= progressMinSize && isTerminal(stderr) {
		bar := capture.NewProgressBar(stderr, name, fi.Size(), time.Now)
		opts.Progress = bar.Update
		defer bar.Done()
	}
	var emit func(*capture.Record) error
	var table *capture.TableWriter
	if format == "table" {
		fmt.Fprintf(out, "== %s\n", name)
		table = capture.NewTableWriter(out)
		emit = table.Write
	} else {
		var line []byte
		emit = func(r *capture.Record) error {
			var err error
			if line, err = r.AppendJSON(line[:0]); err != nil {
				return err
			}
			line = append(line, '\n')
			_, err = out.Write(line)
			return err
		}
	}
	stats, err := capture.Analyze(ctx, f, opts, emit)
	if table != nil {
		if ferr := table.Flush(); err == nil {
			err = ferr
		}
	}
	if stats.Truncated {
		fmt.Fprintf(stderr, "bulkhead analyze: %s: warning: capture ends in the middle of a packet\n", name)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	opts.Logger.Debug("capture read", "file", name, "packets", stats.Packets, "bytes", stats.Bytes,
		"flows", stats.Flows, "not_ip", stats.NotIP, "malformed", stats.Malformed,
		"fragments", stats.Fragments, "reassembled", stats.Reassembled,
		"fragments_dropped", stats.FragmentsDropped, "evicted", stats.Evicted)
	return nil
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
