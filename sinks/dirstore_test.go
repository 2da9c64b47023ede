package sinks

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestDirStoreWritesObjects proves Put creates subdirectories, writes the body under
// the key's path, replaces an existing object, and String names the directory.
func TestDirStoreWritesObjects(t *testing.T) {
	dir := t.TempDir()
	s, err := NewDirStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Check(context.Background()); err != nil {
		t.Fatalf("Check: %v", err)
	}
	key := "raw/dt=2026-05-06/hr=07/t-0-1-2.jsonl"
	for _, body := range []string{"first\n", "second\n"} {
		if err := s.Put(context.Background(), key, []byte(body), contentTypeNDJSON, ""); err != nil {
			t.Fatalf("Put: %v", err)
		}
		got, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(key)))
		if err != nil || string(got) != body {
			t.Fatalf("read back %q, %v; want %q", got, err, body)
		}
	}
	if want := "file://" + filepath.ToSlash(dir); s.String() != want {
		t.Fatalf("String = %q, want %q", s.String(), want)
	}
	if entries := allFiles(t, dir); len(entries) != 1 {
		t.Fatalf("files = %v, want the one object and no leftovers", entries)
	}
}

// TestDirStoreIsAtomic proves readers never see a partial file under the final
// name: a reader polling the name while a writer replaces it with large bodies only
// ever reads a whole body.
func TestDirStoreIsAtomic(t *testing.T) {
	dir := t.TempDir()
	s, err := NewDirStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	key := "k/obj.jsonl"
	final := filepath.Join(dir, "k", "obj.jsonl")
	bodies := [][]byte{bytes.Repeat([]byte("a"), 1<<20), bytes.Repeat([]byte("b"), 1<<20)}
	if err := s.Put(context.Background(), key, bodies[0], "", ""); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var torn, reads int
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			got, err := os.ReadFile(final)
			if err != nil {
				torn++ // the final name must always exist once written
				continue
			}
			reads++
			if !bytes.Equal(got, bodies[0]) && !bytes.Equal(got, bodies[1]) {
				torn++
			}
		}
	})
	for i := range 40 {
		if err := s.Put(context.Background(), key, bodies[i%2], "", ""); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	if reads == 0 {
		t.Fatal("the reader never read the file; the test proved nothing")
	}
	if torn != 0 {
		t.Fatalf("%d of %d reads saw a missing or partial file", torn, reads+torn)
	}
}

// TestDirStoreFailedWriteLeavesNothing proves a write that fails midway leaves no
// file under the final name and no temporary file behind.
func TestDirStoreFailedWriteLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	st, err := NewDirStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	ds := st.(*dirStore)
	errDisk := errors.New("disk full")
	ds.writeBody = func(w io.Writer, body []byte) error {
		if _, err := w.Write(body[:len(body)/2]); err != nil {
			return err
		}
		return errDisk
	}
	err = ds.Put(context.Background(), "a/b.jsonl", []byte("0123456789"), "", "")
	if !errors.Is(err, errDisk) {
		t.Fatalf("Put = %v, want the write error", err)
	}
	if files := allFiles(t, dir); len(files) != 0 {
		t.Fatalf("files after a failed write: %v, want none", files)
	}
}

// TestDirStoreRejectsEscapingKeys proves a key cannot write outside the directory.
func TestDirStoreRejectsEscapingKeys(t *testing.T) {
	dir := t.TempDir()
	s, err := NewDirStore(filepath.Join(dir, "out"))
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"../escape.jsonl", "/abs.jsonl", "a/../../escape.jsonl"} {
		if err := s.Put(context.Background(), key, []byte("x"), "", ""); err == nil {
			t.Fatalf("Put(%q) succeeded, want a refusal", key)
		}
	}
	if files := allFiles(t, dir); len(files) != 0 {
		t.Fatalf("files written: %v", files)
	}
}

// TestDirStoreCheckFailsClearly proves Check fails, naming the directory, when the
// directory cannot be created (a path below a regular file) or is read-only.
func TestDirStoreCheckFailsClearly(t *testing.T) {
	base := t.TempDir()
	file := filepath.Join(base, "a-file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	cases := map[string]string{"below a file": filepath.Join(file, "out")}
	if os.Geteuid() != 0 { // root writes through permission bits
		ro := filepath.Join(base, "read-only")
		if err := os.Mkdir(ro, 0o555); err != nil {
			t.Fatal(err)
		}
		cases["read-only"] = ro
	}
	for name, dir := range cases {
		t.Run(name, func(t *testing.T) {
			s, err := NewDirStore(dir)
			if err != nil {
				t.Fatal(err)
			}
			err = s.Check(context.Background())
			if err == nil || !strings.Contains(err.Error(), dir) {
				t.Fatalf("Check = %v, want an error naming %s", err, dir)
			}
		})
	}
	if _, err := NewDirStore(""); err == nil {
		t.Fatal("NewDirStore(\"\") succeeded")
	}
}

// TestBatcherWithDirStore proves the Batcher and the directory store work together:
// the object appears under the documented key path with the lines.
func TestBatcherWithDirStore(t *testing.T) {
	dir := t.TempDir()
	s, err := NewDirStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	b := newTestBatcher(t, Config{Prefix: "demo"}, s, WithClock(func() time.Time { return t0 }))
	d := newDoneLog()
	b.Add(d.item("events", 0, 41))
	b.Add(d.item("events", 0, 40))
	flush(t, b, "events", 0)
	body, err := os.ReadFile(filepath.Join(dir, "demo", "dt=2026-05-06", "hr=07", "events-0-40-41.jsonl.gz"))
	if err != nil {
		t.Fatal(err)
	}
	got := lines(t, body, true)
	if len(got) != 2 || got[0] != `{"id":"events/0@41"}` || got[1] != `{"id":"events/0@40"}` {
		t.Fatalf("lines = %q", got)
	}
	d.requireOnce(t, "events", 0, 40, nil)
}

// allFiles lists every regular file under dir, hidden ones included.
func allFiles(t *testing.T, dir string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(dir, func(path string, e os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !e.IsDir() {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}
