package benchkit

import (
	"errors"
	"fmt"
	"os"
	"strings"
)

// emptyDoc starts a BENCHMARKS.md that does not exist yet.
const emptyDoc = "# Benchmarks\n\nEach section is written by its `make bench-*` target.\n"

// ReplaceSection returns doc with the body of its "## title" section (up to
// the next "## " heading) replaced by body, or with the section appended
// when doc has none. Other sections are left as they are; an empty doc
// gets a "# Benchmarks" heading first.
func ReplaceSection(doc, title, body string) string {
	if doc == "" {
		doc = emptyDoc
	}
	return replaceBlock(doc, "## "+title, "## ", body)
}

// RecordSection writes body as the "## title" section of the Markdown file
// at path (see ReplaceSection), creating the file when it does not exist.
func RecordSection(path, title, body string) error {
	return update(path, func(doc string) string { return ReplaceSection(doc, title, body) })
}

// RecordSubsection writes body as the "### sub" subsection of the
// "## section" section of the Markdown file at path, replacing that
// subsection (up to the next "### " or "## " heading) or appending it to the
// section, and leaving everything else as it is.
func RecordSubsection(path, section, sub, body string) error {
	return update(path, func(doc string) string {
		if doc == "" {
			doc = emptyDoc
		}
		_, old, _, _ := cut(doc, "## "+section, "## ")
		return ReplaceSection(doc, section, replaceBlock(old, "### "+sub, "### ", body))
	})
}

// update rewrites the file at path with edit's result (doc is "" when the
// file does not exist).
func update(path string, edit func(doc string) string) error {
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("record benchmarks in %s: %w", path, err)
	}
	if err := os.WriteFile(path, []byte(edit(string(old))), 0o644); err != nil {
		return fmt.Errorf("record benchmarks in %s: %w", path, err)
	}
	return nil
}

// replaceBlock replaces the block of text that starts with the line heading
// and ends before the next line that starts with next by heading, a blank
// line and body, or appends that block to text. Blocks are separated by one
// blank line and the result ends with one newline.
func replaceBlock(text, heading, next, body string) string {
	block := heading + "\n\n" + strings.Trim(body, "\n") + "\n"
	before, _, after, found := cut(text, heading, next)
	if !found {
		return strings.TrimRight(text, "\n") + "\n\n" + block
	}
	if after != "" {
		block += "\n"
	}
	return before + block + after
}

// cut splits text around the block that starts with the line heading and
// ends before the next line that starts with next: the text before it, the
// block's body (after the heading line) and the text after it. Without such
// a heading, before is text and found is false.
func cut(text, heading, next string) (before, body, after string, found bool) {
	lines := strings.SplitAfter(text, "\n")
	start := -1
	for i, l := range lines {
		if strings.TrimRight(l, "\n") == heading {
			start = i
			break
		}
	}
	if start < 0 {
		return text, "", "", false
	}
	end := len(lines)
	for i := start + 1; i < len(lines); i++ {
		if strings.HasPrefix(lines[i], next) {
			end = i
			break
		}
	}
	return strings.Join(lines[:start], ""), strings.Join(lines[start+1:end], ""), strings.Join(lines[end:], ""), true
}
