package graphview

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
)

// Graphviz lays out DOT text into a picture. ExecGraphviz runs the real
// program; tests may substitute a fake.
type Graphviz interface {
	// Render returns dot laid out in format ("svg" or "png").
	Render(ctx context.Context, format string, dot []byte) ([]byte, error)
}

// ErrNoGraphviz matches (errors.Is) the error of a render when the
// Graphviz program is not installed.
var ErrNoGraphviz = errors.New("graphviz is not installed")

// MissingProgramError says which Graphviz program was not found.
type MissingProgramError struct {
	Program string
	Err     error // from exec.LookPath
}

func (e *MissingProgramError) Error() string {
	return fmt.Sprintf("the Graphviz program %q is not installed (Debian/Ubuntu: apt-get install graphviz; the formats dot, mermaid and json need no Graphviz): %v", e.Program, e.Err)
}

// Is makes errors.Is(err, ErrNoGraphviz) true.
func (e *MissingProgramError) Is(target error) bool { return target == ErrNoGraphviz }

// Unwrap returns the lookup error.
func (e *MissingProgramError) Unwrap() error { return e.Err }

// ExecGraphviz runs Graphviz's dot program.
type ExecGraphviz struct {
	// Program is the program to run: a name looked up in PATH or a path
	// ("dot" when empty).
	Program string
}

func (x ExecGraphviz) program() string {
	if x.Program == "" {
		return "dot"
	}
	return x.Program
}

// Render runs `dot -TFORMAT` with dot on its standard input.
func (x ExecGraphviz) Render(ctx context.Context, format string, dot []byte) ([]byte, error) {
	prog := x.program()
	path, err := exec.LookPath(prog)
	if err != nil {
		return nil, fmt.Errorf("graphview: render %s: %w", format, &MissingProgramError{Program: prog, Err: err})
	}
	var out, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, path, "-T"+format)
	cmd.Stdin = bytes.NewReader(dot)
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("graphview: render %s with %s: %w: %s", format, path, err, strings.TrimSpace(stderr.String()))
	}
	return out.Bytes(), nil
}
