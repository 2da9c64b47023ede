package testenv

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// repoRoot walks up from the working directory (a test's is its package's
// folder) to the folder holding go.mod.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("testenv: working directory: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		} else if !errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("testenv: looking for go.mod: %w", err)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("testenv: no go.mod above the working directory")
		}
		dir = parent
	}
}

// script returns the path of scripts/NAME in the repository.
func script(name string) (string, error) {
	root, err := repoRoot()
	if err != nil {
		return "", err
	}
	path := filepath.Join(root, "scripts", name)
	if _, err := os.Stat(path); err != nil {
		return "", fmt.Errorf("testenv: %w", err)
	}
	return path, nil
}

// keepDirs tells Close to leave the servers' folders (logs, data) behind for
// a post-mortem: set REDRIVE_TESTENV_KEEP=1.
func keepDirs() bool { return os.Getenv("REDRIVE_TESTENV_KEEP") == "1" }

// removeDir removes a server's folder unless keepDirs says otherwise.
func removeDir(dir string) error {
	if keepDirs() {
		fmt.Fprintf(os.Stderr, "testenv: kept %s (REDRIVE_TESTENV_KEEP=1)\n", dir)
		return nil
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("testenv: removing %s: %w", dir, err)
	}
	return nil
}
