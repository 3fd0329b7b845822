package graphview

import (
	"encoding/json"
	"fmt"
	"io"
)

// WriteJSON writes the view model as indented JSON (format version
// ViewVersion, described in docs/graph.md).
func WriteJSON(w io.Writer, g *Graph) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(g); err != nil {
		return fmt.Errorf("graphview: write json: %w", err)
	}
	return nil
}
