package main

import (
	"fmt"
	"io"
	"os"
)

// Reading input files and writing output files, shared by the subcommands.

// readFile decodes the file at path with decode; errors name what is read
// ("read graph: open g.json: ...") or the file ("g.json: ...").
func readFile[T any](path, what string, decode func(io.Reader) (T, error)) (T, error) {
	var zero T
	f, err := os.Open(path)
	if err != nil {
		return zero, fmt.Errorf("read %s: %w", what, err)
	}
	defer f.Close()
	v, err := decode(f)
	if err != nil {
		return zero, fmt.Errorf("%s: %w", path, err)
	}
	return v, nil
}

// writeOutput writes data to the file at path, or to stdout when path is
// empty.
func writeOutput(path string, stdout io.Writer, data []byte) error {
	if path == "" {
		_, err := stdout.Write(data)
		return err
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
