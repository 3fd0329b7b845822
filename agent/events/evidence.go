package events

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
)

// EvidenceConfig bounds the evidence directory.
type EvidenceConfig struct {
	Dir string
	// MaxFiles is the most files kept; the oldest go first.
	MaxFiles int
	// MaxFileSize caps each file; packets that would pass it are left out.
	MaxFileSize int64
	// Packets caps the packets written per event.
	Packets int
}

const (
	evidencePrefix = "bulkhead-"
	evidenceSuffix = ".pcapng"
	// epbOverhead is the size of an enhanced packet block without its data.
	epbOverhead = 32
)

// Evidence writes pcapng evidence files. It is not safe for concurrent use
// (the emitter's writer goroutine owns it).
type Evidence struct {
	cfg   EvidenceConfig
	files []string // oldest first
}

// OpenEvidence creates the directory (0750) and takes stock of the files
// already there, so that the bounds hold across restarts.
func OpenEvidence(cfg EvidenceConfig) (*Evidence, error) {
	if cfg.MaxFiles <= 0 || cfg.MaxFileSize <= 0 || cfg.Packets <= 0 {
		return nil, fmt.Errorf("events: evidence %s: bad limits %+v", cfg.Dir, cfg)
	}
	if err := os.MkdirAll(cfg.Dir, 0o750); err != nil {
		return nil, fmt.Errorf("events: evidence: %w", err)
	}
	ents, err := os.ReadDir(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("events: evidence: %w", err)
	}
	ev := &Evidence{cfg: cfg}
	for _, e := range ents {
		if n := e.Name(); e.Type().IsRegular() && strings.HasPrefix(n, evidencePrefix) && strings.HasSuffix(n, evidenceSuffix) {
			ev.files = append(ev.files, n)
		}
	}
	sort.Strings(ev.files) // names start with the UTC time
	if err := ev.trim(cfg.MaxFiles); err != nil {
		return nil, err
	}
	return ev, nil
}

// Dir returns the evidence directory.
func (ev *Evidence) Dir() string { return ev.cfg.Dir }

// Files returns the evidence files, oldest first.
func (ev *Evidence) Files() []string { return append([]string(nil), ev.files...) }

// Write stores e's packets and returns the file's name (relative to Dir).
func (ev *Evidence) Write(e *Event) (string, error) {
	name := fmt.Sprintf("%s%s-%s-%s%s", evidencePrefix, e.Time.UTC().Format("20060102T150405.000000000Z"),
		orDash(e.FlowID), e.Type, evidenceSuffix)
	if err := ev.trim(ev.cfg.MaxFiles - 1); err != nil {
		return "", err
	}
	p := filepath.Join(ev.cfg.Dir, name)
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		return "", fmt.Errorf("events: evidence %s: %w", p, err)
	}
	werr := ev.write(f, e)
	cerr := f.Close()
	if werr == nil {
		werr = cerr
	}
	if werr != nil {
		os.Remove(p)
		return "", fmt.Errorf("events: evidence %s: %w", p, werr)
	}
	ev.files = append(ev.files, name)
	return name, nil
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

func (ev *Evidence) write(f io.Writer, e *Event) error {
	cw := &countingWriter{w: f}
	bw := bufio.NewWriter(cw)
	desc := fmt.Sprintf("%s %s %s -> %s", e.Type, e.Proto, endpointText(e.Src), endpointText(e.Dst))
	w, err := pcapgo.NewNgWriterInterface(bw, pcapgo.NgInterface{
		Name:                "bulkhead",
		Description:         desc,
		LinkType:            layers.LinkTypeRaw,
		SnapLength:          0,
		TimestampResolution: 9,
	}, pcapgo.NgWriterOptions{SectionInfo: pcapgo.NgSectionInfo{
		Application: "bulkhead",
		Comment:     strings.TrimSpace(e.Reason + " " + e.Rule),
	}})
	if err != nil {
		return err
	}
	if err := w.Flush(); err != nil {
		return err
	}
	size := cw.n
	for i, p := range e.Packets {
		if i == ev.cfg.Packets {
			break
		}
		block := int64(epbOverhead + (len(p.Data)+3)&^3)
		if size+block > ev.cfg.MaxFileSize {
			break
		}
		ci := gopacket.CaptureInfo{Timestamp: p.Time, CaptureLength: len(p.Data), Length: max(p.OrigLen, len(p.Data))}
		if err := w.WritePacket(ci, p.Data); err != nil {
			return err
		}
		size += block
	}
	return w.Flush()
}

// trim removes the oldest files until at most n remain.
func (ev *Evidence) trim(n int) error {
	n = max(n, 0)
	for len(ev.files) > n {
		p := filepath.Join(ev.cfg.Dir, ev.files[0])
		if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("events: evidence: remove oldest: %w", err)
		}
		ev.files = ev.files[1:]
	}
	return nil
}

func endpointText(ep Endpoint) string {
	s := ep.Workload
	if ep.IP.IsValid() {
		s += "(" + ep.IP.String()
		if ep.Port != 0 {
			s += fmt.Sprintf(" port %d", ep.Port)
		}
		s += ")"
	}
	return s
}

func orDash(s string) string {
	if s == "" {
		return "noflow"
	}
	return s
}
