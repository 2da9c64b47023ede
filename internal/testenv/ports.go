package testenv

import (
	"errors"
	"fmt"
	"net"
)

// errPortTaken marks a start that failed because a drawn port was taken.
var errPortTaken = errors.New("testenv: a port was taken before the server bound it")

// withFreshPorts calls start, which draws its own ports, up to three times
// while it fails because a port was taken before the server bound it.
func withFreshPorts[T any](start func() (T, error)) (T, error) {
	for attempt := 1; ; attempt++ {
		v, err := start()
		if err == nil || !errors.Is(err, errPortTaken) || attempt == 3 {
			return v, err
		}
	}
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort() (int, error) {
	ports, err := FreePorts(1)
	if err != nil {
		return 0, err
	}
	return ports[0], nil
}

// FreePorts returns n distinct TCP ports on 127.0.0.1 that were free a
// moment ago. Every listener stays open until all n are drawn, so the kernel
// cannot hand out one port twice. Another process may still take a port
// before the server binds it; StartKafka and StartS3 retry with fresh ports
// when that happens.
func FreePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("testenv: drawing a free port: %w", err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
