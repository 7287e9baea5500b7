package cmdutil

import (
	"context"
	"errors"
	"fmt"

	"github.com/bos-project/bos/internal/exitcode"
)

// Exit codes are part of the CLI contract (DESIGN §5): scripts branch on
// them. They are the exitcode package's, as ints for os.Exit.
const (
	ExitOK          = int(exitcode.OK)
	ExitFailure     = int(exitcode.Failure)
	ExitInvalid     = int(exitcode.Invalid)
	ExitNodesFailed = int(exitcode.NodesFailed)
	ExitConflict    = int(exitcode.Conflict)
	ExitInterrupted = int(exitcode.Interrupted)
)

// ErrUsage marks a mistake in how a command was called (exit 2).
var ErrUsage = exitcode.New(exitcode.Invalid, "invalid usage")

// UsageError returns an ErrUsage error with a message that says how to fix it.
func UsageError(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrUsage, fmt.Sprintf(format, args...))
}

// ExitError carries an exit code chosen by a command, for outcomes that are
// not Go errors as such (a session that finished with failed nodes).
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string           { return e.Err.Error() }
func (e *ExitError) Unwrap() error           { return e.Err }
func (e *ExitError) ExitCode() exitcode.Code { return exitcode.Code(e.Code) }

// ExitCode maps an error returned by a command to the process exit code:
// the code the error carries (exitcode.Coder), or 1. Cancellation comes
// first: an interruption while, say, a template was being checked is still
// an interruption.
func ExitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	if errors.Is(err, context.Canceled) {
		return ExitInterrupted
	}
	var coder exitcode.Coder
	if errors.As(err, &coder) {
		return int(coder.ExitCode())
	}
	return ExitFailure
}
