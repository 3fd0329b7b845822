// Command bulkhead is the Bulkhead container network security daemon and its
// command-line tools. Every subcommand lives in its own file in this
// directory and registers itself with register; wiring between packages
// happens here and nowhere else.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
)

// command is one subcommand of the bulkhead binary.
type command struct {
	name    string // first word on the command line, e.g. "analyze"
	usage   string // one line: arguments, e.g. "[flags] FILE..."
	summary string // one line shown by "bulkhead help"
	// run executes the command. args excludes the command name. Output goes
	// to stdout and stderr; a returned error is printed with the command name
	// and makes the process exit non-zero.
	run func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

var commands = map[string]command{}

// register adds a subcommand; it panics on duplicates so that a wiring
// mistake fails every test.
func register(c command) {
	if _, dup := commands[c.name]; dup {
		panic("bulkhead: duplicate command " + c.name)
	}
	commands[c.name] = c
}

// exitError carries a specific exit status (e.g. "policy check" found errors).
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// errUsage marks an error caused by a bad command line; it exits with 2.
var errUsage = errors.New("usage")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes the command line and returns the process exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		if len(args) > 1 {
			if c, ok := commands[args[1]]; ok {
				fmt.Fprintf(stdout, "usage: bulkhead %s %s\n\n%s\n", c.name, c.usage, c.summary)
				return 0
			}
		}
		printHelp(stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "bulkhead: unknown command %q (see \"bulkhead help\")\n", args[0])
		return 2
	}
	if err := c.run(ctx, args[1:], stdout, stderr); err != nil {
		var ee *exitError
		switch {
		case errors.As(err, &ee):
			if ee.err != nil && ee.err.Error() != "" {
				fmt.Fprintf(stderr, "bulkhead %s: %v\n", c.name, ee.err)
			}
			return ee.code
		case errors.Is(err, errUsage):
			fmt.Fprintf(stderr, "bulkhead %s: %v\nusage: bulkhead %s %s\n", c.name, err, c.name, c.usage)
			return 2
		default:
			fmt.Fprintf(stderr, "bulkhead %s: %v\n", c.name, err)
			return 1
		}
	}
	return 0
}

func printHelp(w io.Writer) {
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Fprintln(w, "bulkhead — container network security daemon and tools")
	fmt.Fprintln(w, "\nusage: bulkhead COMMAND [flags] [args]\n\ncommands:")
	width := 0
	for _, n := range names {
		width = max(width, len(n))
	}
	for _, n := range names {
		fmt.Fprintf(w, "  %-*s  %s\n", width, n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nRun \"bulkhead help COMMAND\" for a command's usage.")
}

// usagef returns an error that prints the command's usage line.
func usagef(format string, a ...any) error {
	return fmt.Errorf("%w: %s", errUsage, strings.TrimSpace(fmt.Sprintf(format, a...)))
}
