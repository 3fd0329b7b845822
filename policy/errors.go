package policy

import (
	"fmt"
	"sort"
	"strings"
)

// Pos is a position in a policy file.
type Pos struct {
	File string // the file's name as given to Load or Parse
	Line int    // 1-based; 0 when unknown
}

func (p Pos) String() string {
	if p.Line == 0 {
		return p.File
	}
	return fmt.Sprintf("%s:%d", p.File, p.Line)
}

// Error is one problem found in a policy: where, which field, what.
type Error struct {
	Pos   Pos
	Field string // path of the field inside the document's spec, e.g. "rules[2].ports[0]"
	Msg   string
}

// Error formats the problem as "FILE:LINE: FIELD: MESSAGE".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Pos.String())
	b.WriteString(": ")
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// ErrorList is every problem found in a policy. Load and Parse return one
// (as error) when anything is wrong; errors.As recovers it.
type ErrorList []*Error

// Error joins the problems, one per line, sorted by file and line.
func (l ErrorList) Error() string {
	lines := make([]string, len(l))
	for i, e := range l {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// sort orders the list by file, line, field and message.
func (l ErrorList) sort() {
	sort.SliceStable(l, func(i, j int) bool {
		a, b := l[i], l[j]
		if a.Pos.File != b.Pos.File {
			return a.Pos.File < b.Pos.File
		}
		if a.Pos.Line != b.Pos.Line {
			return a.Pos.Line < b.Pos.Line
		}
		if a.Field != b.Field {
			return a.Field < b.Field
		}
		return a.Msg < b.Msg
	})
}

// errs collects problems while loading.
type errs struct{ list ErrorList }

func (e *errs) add(pos Pos, field, format string, a ...any) {
	e.list = append(e.list, &Error{Pos: pos, Field: field, Msg: fmt.Sprintf(format, a...)})
}

// err returns the collected list as an error, or nil when empty.
func (e *errs) err() error {
	if len(e.list) == 0 {
		return nil
	}
	e.list.sort()
	return e.list
}
