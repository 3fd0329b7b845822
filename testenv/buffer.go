package testenv

import (
	"bytes"
	"sync"
)

// Buffer collects what a process (or any other goroutine) writes while a
// test reads it: a bytes.Buffer behind a mutex. The zero value is ready to
// use. Give it as cmd.Stdout or cmd.Stderr of a program started with
// Host.Start, then poll String for the line the test waits for.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p; it never fails.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// String returns a copy of everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// Len is the number of bytes written so far.
func (b *Buffer) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Len()
}
