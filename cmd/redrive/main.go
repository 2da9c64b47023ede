// Command redrive moves events from Kafka to S3, enriching some of them
// through an HTTP API, with a circular dead-letter topic: see `redrive --help`.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/peterbourgon/ff/v4"
	"github.com/peterbourgon/ff/v4/ffhelp"

	"github.com/redrive-io/redrive"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, ff.ErrHelp) {
			fmt.Fprintln(os.Stderr, "redrive:", err)
		}
		os.Exit(exitCode(err))
	}
}

// exitCode is 0 for --help, 2 for usage errors (bad flags), 3 for a stop
// that left records uncommitted (they are read again on restart, none
// lost), and 1 for the rest (configuration refused at start-up, a fatal
// Kafka fault such as a missing topic or a failed authorization).
func exitCode(err error) int {
	var ue usageError
	switch {
	case errors.Is(err, ff.ErrHelp):
		return 0
	case errors.As(err, &ue):
		return 2
	case errors.Is(err, redrive.ErrIncompleteStop):
		return 3
	}
	return 1
}

// usageError marks an error in the command line rather than at run time.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// run is the whole binary, testable in-process: it parses args, runs the
// selected command until ctx ends, and writes to stdout and stderr only.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	// --version is looked for here rather than bound as a flag: a root flag
	// would also be read from REDRIVE_VERSION, which a deployment may well
	// set for its own purposes, and would then break every command.
	if len(args) == 1 && (args[0] == "--version" || args[0] == "-version") {
		_, err := fmt.Fprintln(stdout, readBuildInfo())
		return err
	}
	root := newRootCommand(stdout, stderr)
	args = flagsFirst(root, args)
	if err := root.Parse(args, parseOptions()...); err != nil {
		sel := root.GetSelected()
		if sel == nil {
			sel = root
		}
		fmt.Fprintf(stderr, "%s\n", ffhelp.Command(sel))
		if errors.Is(err, ff.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	return root.Run(ctx)
}

// newRootCommand builds the command tree.
func newRootCommand(stdout, stderr io.Writer) *ff.Command {
	root := &ff.Command{
		Name:      "redrive",
		Usage:     "redrive <command> [flags]",
		ShortHelp: "move events from Kafka to S3, enriching some through an HTTP API, with a circular dead-letter topic",
		LongHelp: `redrive consumes a Kafka topic and its dead-letter topic in one consumer group,
enriches the records that match a rule through an HTTP API, writes them to S3 in
compressed batches, and sends failures around the dead-letter topic with backoff
until they succeed or are parked for people to inspect. Nothing is lost: an
offset is committed only once every record at or below it is durable.

Every flag can also be set by an environment variable: --input-topic is
REDRIVE_INPUT_TOPIC, and so on; 'redrive run' and 'redrive dlq' also read a
YAML file of the same settings with --config FILE (flags win over the
environment, which wins over the file). redrive --version prints the build.`,
		Flags: ff.NewFlagSet("redrive"),
	}
	// A missing or mistyped command must not look like success: a typo in a
	// Helm chart's args would otherwise give a pod that restarts forever
	// with an empty log.
	root.Exec = func(_ context.Context, args []string) error {
		fmt.Fprintf(stderr, "%s\n", ffhelp.Command(root))
		if len(args) == 0 {
			return usageError{errors.New("no command given (want run, demo, mockapi, dlq, rule, table or version)")}
		}
		return usageError{fmt.Errorf("unknown command %q (want run, demo, mockapi, dlq, rule, table or version)", args[0])}
	}
	root.Subcommands = []*ff.Command{
		newRunCommand(stdout, stderr),
		newDemoCommand(stdout, stderr),
		newMockAPICommand(stdout, stderr),
		newDLQCommand(stdout, stderr),
		newRuleCommand(os.Stdin, stdout, stderr),
		newTableCommand(stdout),
		newVersionCommand(stdout),
	}
	return root
}
