package main

import (
	"strings"

	"github.com/peterbourgon/ff/v4"
)

// flagsFirst moves the flags that follow a leaf command's positional
// arguments in front of them, so that `redrive dlq show 2:0 --topic dlq`
// means what `redrive dlq show --topic dlq 2:0` does: ff, like the flag
// package, stops parsing flags at the first positional argument, and the
// rest used to be refused as unexpected arguments. Everything after "--"
// stays positional. Commands with subcommands are left as they are: there
// a positional argument names the subcommand.
func flagsFirst(cmd *ff.Command, args []string) []string {
	i := skipFlags(cmd.Flags, args)
	if i >= len(args) || args[i] == "--" {
		return args
	}
	for _, sub := range cmd.Subcommands {
		if sub.Name == args[i] {
			out := append([]string{}, args[:i+1]...)
			return append(out, flagsFirst(sub, args[i+1:])...)
		}
	}
	if len(cmd.Subcommands) > 0 {
		return args // an unknown command: let the parser say so
	}
	flags := append([]string{}, args[:i]...)
	var positional []string
	for j := i; j < len(args); j++ {
		a := args[j]
		if a == "--" {
			positional = append(positional, args[j+1:]...)
			break
		}
		if isFlagArg(a) {
			n := 1 + flagValues(cmd.Flags, a)
			flags = append(flags, args[j:min(j+n, len(args))]...)
			j += n - 1
			continue
		}
		positional = append(positional, a)
	}
	if len(positional) == 0 {
		return flags
	}
	return append(append(flags, "--"), positional...)
}

// skipFlags returns the index of the first argument that is not a flag or
// a flag's value.
func skipFlags(fs ff.Flags, args []string) int {
	i := 0
	for i < len(args) && isFlagArg(args[i]) {
		i += 1 + flagValues(fs, args[i])
	}
	return i
}

// isFlagArg reports whether a looks like a flag ("-x", "--name", not "-"
// or "--").
func isFlagArg(a string) bool {
	return len(a) > 1 && a[0] == '-' && a != "--"
}

// flagValues is how many of the following arguments a flag consumes: none
// for --name=value, a boolean flag or an unknown flag (the parser reports
// it), one otherwise. ff gives boolean flags no placeholder in their help.
func flagValues(fs ff.Flags, a string) int {
	name := strings.TrimLeft(a, "-")
	if strings.Contains(name, "=") || fs == nil {
		return 0
	}
	f, ok := fs.GetFlag(name)
	if !ok || f.GetPlaceholder() == "" {
		return 0
	}
	return 1
}
