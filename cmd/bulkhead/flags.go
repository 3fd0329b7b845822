package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
)

// Command-line parsing shared by the subcommands.

// newFlagSet returns a subcommand's flag set: errors are returned (not
// fatal) and its messages and usage go to stderr. Its usage (-h, or a bad
// flag) is "usage: bulkhead NAME [flags]" and the flags; setSynopsis names
// the operands too.
func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	setSynopsis(fs, "[flags]")
	return fs
}

// setSynopsis makes fs's usage "usage: bulkhead NAME SYNOPSIS" followed by
// its flags, or by "(no flags)" when it has none.
func setSynopsis(fs *flag.FlagSet, synopsis string) {
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "usage: bulkhead %s %s\n", fs.Name(), synopsis)
		n := 0
		fs.VisitAll(func(*flag.Flag) { n++ })
		if n == 0 {
			fmt.Fprintln(w, "(no flags)")
			return
		}
		fmt.Fprintln(w, "flags:")
		fs.PrintDefaults()
	}
}

// parseFlags parses args, turning flag errors into usage errors (and -h
// into exit status 0).
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return &exitError{code: 0}
		}
		return usagef("%v", err)
	}
	return nil
}

// parseNoArgs parses args like parseFlags for a command that takes no
// positional argument.
func parseNoArgs(fs *flag.FlagSet, args []string) error {
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	return noArgs(fs)
}

// noArgs is a usage error naming the first positional argument left in fs,
// if any.
func noArgs(fs *flag.FlagSet) error {
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	return nil
}

// parseInterspersed parses args like parseFlags but also accepts flags
// after positional arguments ("generate g.json -o p.yaml"); it returns the
// positional arguments (everything after "--" is positional).
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := parseFlags(fs, args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if len(rest) < len(args) && args[len(args)-len(rest)-1] == "--" {
			return append(pos, rest...), nil // everything after "--" is positional
		}
		pos, args = append(pos, rest[0]), rest[1:]
	}
}
