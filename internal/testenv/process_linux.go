package testenv

import "syscall"

// childSysProcAttr puts a server in its own process group (a Ctrl-C at the
// terminal reaches the test binary, not the servers) and asks the kernel to
// SIGKILL it when the test binary dies.
func childSysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
