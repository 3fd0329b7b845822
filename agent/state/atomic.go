package state

import (
	"fmt"
	"os"
	"path/filepath"
)

// WriteFileAtomic replaces dir/name with data: it writes a temporary file in
// dir, fsyncs it, renames it over dir/name and fsyncs dir. A crash at any
// point leaves either the old file or the new one.
func WriteFileAtomic(dir, name string, data []byte, perm os.FileMode) (err error) {
	final := filepath.Join(dir, name)
	f, err := os.CreateTemp(dir, "."+name+tmpMarker+"*")
	if err != nil {
		return fmt.Errorf("state: write %s: %w", final, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if _, err = f.Write(data); err != nil {
		return fmt.Errorf("state: write %s: %w", tmp, err)
	}
	if err = f.Chmod(perm); err != nil {
		return fmt.Errorf("state: chmod %s: %w", tmp, err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("state: fsync %s: %w", tmp, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("state: close %s: %w", tmp, err)
	}
	if err = os.Rename(tmp, final); err != nil {
		return fmt.Errorf("state: rename %s to %s: %w", tmp, final, err)
	}
	if err = syncDir(dir); err != nil {
		return err
	}
	return nil
}

// tmpMarker is in the name of every temporary file (".NAME.tmp-RANDOM").
const tmpMarker = ".tmp-"

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("state: fsync directory %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("state: fsync directory %s: %w", dir, err)
	}
	return nil
}
