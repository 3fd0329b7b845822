package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"bulkhead.dev/bulkhead/agent/internal/yamlstrict"
)

// Override sets one field after the file, as a command-line flag does.
type Override struct {
	Field string // dotted YAML path, e.g. "limits.flows"
	Value string
	// YAML says Value is a YAML flow value ("[a, b]", "16KiB"); otherwise
	// it is taken literally as one scalar (a string stays a string).
	YAML bool
	// Origin names the override in errors, e.g. "--max-flows".
	Origin string
}

// Options says where a configuration comes from.
type Options struct {
	// Path is the configuration file; "" means Env.ConfigPath()
	// ($BULKHEAD_CONFIG, else DefaultPath).
	Path string
	// Explicit says the path was given by the user: then a missing file is
	// an error. A missing file at a path not given explicitly means "no
	// file".
	Explicit bool
	Env      Env
	// ReadFile reads the file; nil means os.ReadFile.
	ReadFile func(string) ([]byte, error)
	// Overrides apply in order after the file.
	Overrides []Override
}

// Loaded is a configuration and where it came from.
type Loaded struct {
	Config
	// File is the file read, "" when none was.
	File string
}

// Load builds a configuration from defaults, the file and the overrides,
// then validates it. Every error names the file and line or the flag, and
// the field.
func Load(opts Options) (*Loaded, error) {
	read := opts.ReadFile
	if read == nil {
		read = os.ReadFile
	}
	p := opts.Path
	if p == "" {
		p = opts.Env.ConfigPath()
	}
	out := &Loaded{Config: Default(opts.Env)}
	var pos yamlstrict.Positions
	data, err := read(p)
	switch {
	case err == nil:
		out.File = p
		if pos, err = yamlstrict.Decode(data, &out.Config); err != nil {
			return nil, fmt.Errorf("config: %s: %w", p, err)
		}
	case errors.Is(err, fs.ErrNotExist) && !opts.Explicit:
		// No file at the default path: defaults and flags only.
	default:
		return nil, fmt.Errorf("config: read %s: %w", p, err)
	}
	origin := map[string]string{}
	for _, o := range opts.Overrides {
		if o.YAML {
			err = yamlstrict.Set(&out.Config, o.Field, o.Value)
		} else {
			err = yamlstrict.SetString(&out.Config, o.Field, o.Value)
		}
		if err != nil {
			return nil, fmt.Errorf("config: %s: %w", o.Origin, err)
		}
		origin[o.Field] = o.Origin
	}
	if err := out.Validate(); err != nil {
		return nil, fmt.Errorf("config: %w", locate(err, out.File, pos, origin))
	}
	return out, nil
}

// locate adds the file and line, or the flag, where each invalid field was
// set.
func locate(err error, file string, pos yamlstrict.Positions, origin map[string]string) error {
	var list []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		list = j.Unwrap()
	} else {
		list = []error{err}
	}
	for _, e := range list {
		var fe *FieldError
		if !errors.As(e, &fe) {
			continue
		}
		if o, ok := origin[fe.Field]; ok {
			fe.Msg = fmt.Sprintf("%s (set by %s)", fe.Msg, o)
		} else if line, ok := pos[fe.Field]; ok {
			fe.File, fe.Line = file, line
		}
	}
	return errors.Join(list...)
}
