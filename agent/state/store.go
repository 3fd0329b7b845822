package state

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"
)

// SchemaVersion is the version of the envelope this package writes and
// reads.
const SchemaVersion = 1

// Item is one thing the store persists.
type Item struct {
	// Name is the file's base name without ".json" (lower-case letters,
	// digits, '-', '_').
	Name string
	// Save returns the item's current state as JSON.
	Save func() ([]byte, error)
	// Load restores the item from JSON saved earlier. An error makes the
	// store treat the file as corrupt.
	Load func([]byte) error
	// Generation, when set, returns a number that changes whenever the
	// item does; the periodic save skips items whose generation has not
	// changed since they were last saved.
	Generation func() uint64
}

// Options configure a Store.
type Options struct {
	// Interval between periodic saves (default 10s).
	Interval time.Duration
	// Now is the clock (default time.Now).
	Now    func() time.Time
	Logger *slog.Logger
	// OnSave, when set, is called after every save of an item (err nil on
	// success), for metrics and tests.
	OnSave func(item string, err error)
}

// envelope is the file format.
type envelope struct {
	Schema int             `json:"schema"`
	Item   string          `json:"item"`
	Saved  time.Time       `json:"saved"`
	SHA256 string          `json:"sha256"`
	Data   json.RawMessage `json:"data"`
}

// Status is the outcome of loading one item.
type Status string

// The load outcomes.
const (
	// Loaded: the item was restored.
	Loaded Status = "loaded"
	// Missing: there was no file (first start); the item is empty.
	Missing Status = "missing"
	// Corrupt: the file could not be used; it was moved aside and the item
	// is empty.
	Corrupt Status = "corrupt"
)

// LoadResult says what happened to one item at start-up.
type LoadResult struct {
	Item   string
	Path   string
	Status Status
	// Saved is when the loaded snapshot was written.
	Saved time.Time
	// MovedTo is where a corrupt file went ("" if it could not be moved).
	MovedTo string
	Err     error
}

// Store persists items in a directory.
type Store struct {
	dir  string
	opts Options

	mu    sync.Mutex // serialises saves
	items []*entry

	startMu sync.Mutex
	started bool
	closed  bool
	stop    chan struct{}
	wg      sync.WaitGroup
}

type entry struct {
	Item
	savedGen uint64
	saved    bool
}

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)

// Open creates the state directory (0700) if needed and removes temporary
// files a crash left behind.
func Open(dir string, opts Options) (*Store, error) {
	if opts.Interval <= 0 {
		opts.Interval = 10 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("state: create %s: %w", dir, err)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("state: read %s: %w", dir, err)
	}
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".") && strings.Contains(e.Name(), tmpMarker) {
			p := filepath.Join(dir, e.Name())
			if err := os.Remove(p); err != nil {
				return nil, fmt.Errorf("state: remove leftover %s: %w", p, err)
			}
			opts.Logger.Info("state: removed a temporary file left by a crash", "path", p)
		}
	}
	return &Store{dir: dir, opts: opts, stop: make(chan struct{})}, nil
}

// Dir returns the state directory.
func (s *Store) Dir() string { return s.dir }

// Register adds an item. Register items before Load and Start.
func (s *Store) Register(it Item) error {
	if !nameRE.MatchString(it.Name) || it.Name == policyItem {
		return fmt.Errorf("state: register %q: bad or reserved name", it.Name)
	}
	if it.Save == nil || it.Load == nil {
		return fmt.Errorf("state: register %q: Save and Load are required", it.Name)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range s.items {
		if e.Name == it.Name {
			return fmt.Errorf("state: register %q: already registered", it.Name)
		}
	}
	s.items = append(s.items, &entry{Item: it})
	return nil
}

// Path returns the file of an item.
func (s *Store) Path(name string) string { return filepath.Join(s.dir, name+".json") }

// Load restores every registered item and says what happened to each.
// Corrupt files are moved aside and logged; their items stay empty.
func (s *Store) Load() []LoadResult {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]LoadResult, 0, len(s.items))
	for _, e := range s.items {
		res := s.loadFile(e.Name, e.Load)
		if res.Status == Loaded && e.Generation != nil {
			e.savedGen, e.saved = e.Generation(), true // nothing new to save yet
		}
		out = append(out, res)
	}
	return out
}

// loadFile reads name's file and hands its data to load.
func (s *Store) loadFile(name string, load func([]byte) error) LoadResult {
	p := s.Path(name)
	res := LoadResult{Item: name, Path: p}
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		res.Status = Missing
		return res
	}
	if err == nil {
		var env envelope
		env, err = decode(name, b)
		if err == nil {
			if err = load(env.Data); err != nil {
				err = fmt.Errorf("state: load %s: %w", p, err)
			}
		}
		res.Saved = env.Saved
	} else {
		err = fmt.Errorf("state: read %s: %w", p, err)
	}
	if err == nil {
		res.Status = Loaded
		return res
	}
	res.Status, res.Err = Corrupt, err
	aside, merr := s.moveAside(p)
	res.MovedTo = aside
	if merr != nil {
		res.Err = errors.Join(err, merr)
	}
	s.opts.Logger.Error("state: file unusable; moved aside, starting this item empty",
		"item", name, "path", p, "moved_to", aside, "err", res.Err)
	return res
}

// decode checks an envelope read from a file.
func decode(name string, b []byte) (envelope, error) {
	var env envelope
	if err := json.Unmarshal(b, &env); err != nil {
		return env, fmt.Errorf("state: %s: not a state file (truncated or corrupt?): %w", name, err)
	}
	if env.Schema != SchemaVersion {
		return env, fmt.Errorf("state: %s: schema %d, this agent reads schema %d", name, env.Schema, SchemaVersion)
	}
	if env.Item != name {
		return env, fmt.Errorf("state: %s: the file holds item %q", name, env.Item)
	}
	sum := sha256.Sum256(env.Data)
	if hex.EncodeToString(sum[:]) != env.SHA256 {
		return env, fmt.Errorf("state: %s: checksum mismatch", name)
	}
	return env, nil
}

// encode wraps data in an envelope.
func encode(name string, data []byte, now time.Time) ([]byte, error) {
	var c bytes.Buffer
	if err := json.Compact(&c, data); err != nil {
		return nil, fmt.Errorf("state: save %s: snapshot is not JSON: %w", name, err)
	}
	sum := sha256.Sum256(c.Bytes())
	// No indentation: it would re-indent Data and change its checksum.
	b, err := json.Marshal(envelope{
		Schema: SchemaVersion, Item: name, Saved: now.UTC(),
		SHA256: hex.EncodeToString(sum[:]), Data: c.Bytes(),
	})
	if err != nil {
		return nil, fmt.Errorf("state: save %s: %w", name, err)
	}
	return append(b, '\n'), nil
}

// moveAside renames a bad file to PATH.corrupt-TIME (adding -N if taken).
func (s *Store) moveAside(p string) (string, error) {
	base := p + ".corrupt-" + s.opts.Now().UTC().Format("20060102T150405Z")
	dst := base
	for i := 2; ; i++ {
		if _, err := os.Lstat(dst); errors.Is(err, fs.ErrNotExist) {
			break
		}
		dst = fmt.Sprintf("%s-%d", base, i)
	}
	if err := os.Rename(p, dst); err != nil {
		return "", fmt.Errorf("state: move %s aside: %w", p, err)
	}
	return dst, nil
}

// Save writes every item whose generation changed (or that has none), and
// returns the errors joined.
func (s *Store) Save() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for _, e := range s.items {
		var gen uint64
		if e.Generation != nil {
			gen = e.Generation()
			if e.saved && gen == e.savedGen {
				continue
			}
		}
		err := s.saveItem(e.Name, e.Save)
		if err == nil {
			e.savedGen, e.saved = gen, true
		} else {
			errs = append(errs, err)
		}
		if s.opts.OnSave != nil {
			s.opts.OnSave(e.Name, err)
		}
	}
	return errors.Join(errs...)
}

func (s *Store) saveItem(name string, snap func() ([]byte, error)) error {
	data, err := snap()
	if err != nil {
		return fmt.Errorf("state: snapshot %s: %w", name, err)
	}
	b, err := encode(name, data, s.opts.Now())
	if err != nil {
		return err
	}
	return WriteFileAtomic(s.dir, name+".json", b, 0o600)
}

// Start saves periodically until Close. Safe to call twice.
func (s *Store) Start() {
	s.startMu.Lock()
	defer s.startMu.Unlock()
	if s.started || s.closed {
		return
	}
	s.started = true
	s.wg.Go(func() {
		t := time.NewTicker(s.opts.Interval)
		defer t.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-t.C:
				if err := s.Save(); err != nil {
					s.opts.Logger.Error("state: periodic save failed", "err", err)
				}
			}
		}
	})
}

// Close stops the periodic saves and saves once more. Safe to call twice
// (the second call saves nothing).
func (s *Store) Close() error {
	s.startMu.Lock()
	if s.closed {
		s.startMu.Unlock()
		return nil
	}
	s.closed = true
	close(s.stop)
	s.startMu.Unlock()
	s.wg.Wait()
	return s.Save()
}
