package sinks

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// dirStore writes objects as files under a local directory (for the demo and tests).
type dirStore struct {
	dir string
	// writeBody writes the body to the temporary file; tests replace it to fail midway.
	writeBody func(w io.Writer, body []byte) error
}

// NewDirStore returns a Store that writes each object to DIR/KEY atomically: the body
// goes to a temporary file beside the final one, is synced, and is renamed into place,
// so a reader never sees a partial file under the final name. Subdirectories are
// created as needed. The directory itself is created by Check.
func NewDirStore(dir string) (Store, error) {
	if dir == "" {
		return nil, errors.New("sinks: directory store needs a directory")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("sinks: directory store %q: %w", dir, err)
	}
	return &dirStore{dir: abs, writeBody: func(w io.Writer, body []byte) error {
		_, err := w.Write(body)
		return err
	}}, nil
}

// Put writes body to the file named by key, atomically. contentType and
// contentEncoding have no place in a file system and are ignored.
func (d *dirStore) Put(ctx context.Context, key string, body []byte, _, _ string) (err error) {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sinks: put %s: %w", key, err)
	}
	rel := filepath.FromSlash(key)
	if !filepath.IsLocal(rel) {
		return fmt.Errorf("sinks: put %q: key escapes directory %s", key, d.dir)
	}
	final := filepath.Join(d.dir, rel)
	parent := filepath.Dir(final)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return fmt.Errorf("sinks: put %s: %w", final, err)
	}
	// The temporary name starts with a dot so that readers listing "*.jsonl*" skip it.
	f, err := os.CreateTemp(parent, "."+filepath.Base(final)+".tmp-*")
	if err != nil {
		return fmt.Errorf("sinks: put %s: %w", final, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	if err := d.writeBody(f, body); err != nil {
		return fmt.Errorf("sinks: put %s: write: %w", final, err)
	}
	// Sync before rename: "durable" means the bytes survive a crash, not just that
	// the name exists.
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sinks: put %s: sync: %w", final, err)
	}
	if err := f.Chmod(0o644); err != nil {
		return fmt.Errorf("sinks: put %s: chmod: %w", final, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("sinks: put %s: close: %w", final, err)
	}
	if err := os.Rename(tmp, final); err != nil {
		return fmt.Errorf("sinks: put %s: rename: %w", final, err)
	}
	return syncDir(parent)
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sinks: sync directory %s: %w", dir, err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sinks: sync directory %s: %w", dir, err)
	}
	return nil
}

// Check creates the directory if needed and proves it writable with a probe file.
func (d *dirStore) Check(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sinks: check directory %s: %w", d.dir, err)
	}
	if err := os.MkdirAll(d.dir, 0o755); err != nil {
		return fmt.Errorf("sinks: directory %s cannot be created: %w", d.dir, err)
	}
	f, err := os.CreateTemp(d.dir, ".redrive-check-*")
	if err != nil {
		return fmt.Errorf("sinks: directory %s is not writable: %w", d.dir, err)
	}
	name := f.Name()
	cerr := f.Close()
	rerr := os.Remove(name)
	if err := errors.Join(cerr, rerr); err != nil {
		return fmt.Errorf("sinks: directory %s: probe file: %w", d.dir, err)
	}
	return nil
}

// String returns "file://" and the absolute directory.
func (d *dirStore) String() string { return "file://" + filepath.ToSlash(d.dir) }
