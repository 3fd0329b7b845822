package graphview

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
)

// Format is an output format of Write.
type Format string

// The output formats.
const (
	FormatDot     Format = "dot"     // Graphviz DOT text
	FormatMermaid Format = "mermaid" // Mermaid flowchart text
	FormatJSON    Format = "json"    // the view model
	FormatSVG     Format = "svg"     // the DOT text laid out by Graphviz
	FormatPNG     Format = "png"     // the DOT text laid out by Graphviz
)

// Formats lists every format, in the order help texts show them.
var Formats = []Format{FormatDot, FormatMermaid, FormatJSON, FormatSVG, FormatPNG}

// ParseFormat returns the format named s.
func ParseFormat(s string) (Format, error) {
	for _, f := range Formats {
		if string(f) == s {
			return f, nil
		}
	}
	names := make([]string, len(Formats))
	for i, f := range Formats {
		names[i] = string(f)
	}
	return "", fmt.Errorf("graphview: unknown format %q (want %s)", s, strings.Join(names, ", "))
}

// Picture reports whether the format is laid out by Graphviz.
func (f Format) Picture() bool { return f == FormatSVG || f == FormatPNG }

// Write renders g in format f to w; SVG and PNG go through gv.
func Write(ctx context.Context, w io.Writer, g *Graph, f Format, gv Graphviz) error {
	switch f {
	case FormatDot:
		return WriteDot(w, g)
	case FormatMermaid:
		return WriteMermaid(w, g)
	case FormatJSON:
		return WriteJSON(w, g)
	case FormatSVG, FormatPNG:
		var dot bytes.Buffer
		if err := WriteDot(&dot, g); err != nil {
			return err
		}
		pic, err := gv.Render(ctx, string(f), dot.Bytes())
		if err != nil {
			return err
		}
		if _, err := w.Write(pic); err != nil {
			return fmt.Errorf("graphview: write %s: %w", f, err)
		}
		return nil
	}
	return fmt.Errorf("graphview: write: unknown format %q", f)
}
