package events

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
)

// RotatingFile is an append-only log file that rotates by size: when a write
// would take it past MaxSize, PATH becomes PATH.1, PATH.1 becomes PATH.2 and
// so on; PATH.Keep is the oldest kept (Keep 0 keeps none). A single write
// larger than MaxSize goes whole into a fresh file. It is not safe for
// concurrent use (the emitter's writer goroutine owns it).
type RotatingFile struct {
	path    string
	maxSize int64
	keep    int
	f       *os.File
	size    int64
}

// OpenRotating opens (appending) or creates the log at path, creating its
// directory (0750); the file is created 0640.
func OpenRotating(path string, maxSize int64, keep int) (*RotatingFile, error) {
	if maxSize <= 0 || keep < 0 {
		return nil, fmt.Errorf("events: open %s: bad limits (max size %d, keep %d)", path, maxSize, keep)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("events: open %s: %w", path, err)
	}
	r := &RotatingFile{path: path, maxSize: maxSize, keep: keep}
	if err := r.open(); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *RotatingFile) open() error {
	f, err := os.OpenFile(r.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return fmt.Errorf("events: open %s: %w", r.path, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("events: stat %s: %w", r.path, err)
	}
	r.f, r.size = f, st.Size()
	return nil
}

// Path returns the current file's path.
func (r *RotatingFile) Path() string { return r.path }

// Write appends p, rotating first when p would not fit.
func (r *RotatingFile) Write(p []byte) (int, error) {
	if r.f == nil {
		return 0, fmt.Errorf("events: write %s: file closed", r.path)
	}
	if r.size > 0 && r.size+int64(len(p)) > r.maxSize {
		if err := r.rotate(); err != nil {
			return 0, err
		}
	}
	n, err := r.f.Write(p)
	r.size += int64(n)
	if err != nil {
		return n, fmt.Errorf("events: write %s: %w", r.path, err)
	}
	return n, nil
}

func (r *RotatingFile) name(i int) string { return r.path + "." + strconv.Itoa(i) }

func (r *RotatingFile) rotate() error {
	if err := r.f.Close(); err != nil {
		return fmt.Errorf("events: rotate %s: %w", r.path, err)
	}
	r.f = nil
	if err := os.Remove(r.name(r.keep)); err != nil && !errors.Is(err, fs.ErrNotExist) && r.keep > 0 {
		return fmt.Errorf("events: rotate %s: %w", r.path, err)
	}
	for i := r.keep - 1; i >= 1; i-- {
		if err := os.Rename(r.name(i), r.name(i+1)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("events: rotate %s: %w", r.path, err)
		}
	}
	var err error
	if r.keep > 0 {
		err = os.Rename(r.path, r.name(1))
	} else {
		err = os.Remove(r.path)
	}
	if err != nil {
		return fmt.Errorf("events: rotate %s: %w", r.path, err)
	}
	return r.open()
}

// Sync flushes the file to disk.
func (r *RotatingFile) Sync() error {
	if r.f == nil {
		return nil
	}
	return r.f.Sync()
}

// Close closes the file; safe to call twice.
func (r *RotatingFile) Close() error {
	if r.f == nil {
		return nil
	}
	err := r.f.Close()
	r.f = nil
	if err != nil {
		return fmt.Errorf("events: close %s: %w", r.path, err)
	}
	return nil
}
