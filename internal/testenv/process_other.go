//go:build !linux

package testenv

import "syscall"

// childSysProcAttr puts a server in its own process group. Without Linux's
// parent-death signal a killed test binary leaves its servers running: stop
// them with the scripts' down command.
func childSysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
