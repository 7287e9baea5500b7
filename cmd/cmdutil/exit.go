package cmdutil

import (
	"context"
	"errors"
	"fmt"

	"github.com/bos-project/bos/internal/config"
	"github.com/bos-project/bos/internal/engine"
	"github.com/bos-project/bos/internal/inventory"
	"github.com/bos-project/bos/internal/session"
	"github.com/bos-project/bos/internal/sessionrun"
	"github.com/bos-project/bos/internal/sim"
	"github.com/bos-project/bos/internal/template"
)

// Exit codes are part of the CLI contract (DESIGN §5): scripts branch on them.
const (
	ExitOK          = 0
	ExitFailure     = 1
	ExitInvalid     = 2
	ExitNodesFailed = 3
	ExitConflict    = 4
	ExitInterrupted = 130
)

// ErrUsage marks a mistake in how a command was called (exit 2).
var ErrUsage = errors.New("invalid usage")

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

func (e *ExitError) Error() string { return e.Err.Error() }
func (e *ExitError) Unwrap() error { return e.Err }

// invalidInput are the sentinels of the packages whose errors mean "fix
// your input"; conflict those meaning "a running session holds this".
var (
	invalidInput = []error{ErrUsage, config.ErrInvalid, inventory.ErrInvalid, inventory.ErrInvalidLimit,
		template.ErrInvalid, sessionrun.ErrInvalid, engine.ErrInvalidPlan, sim.ErrInvalidOptions, session.ErrUnsafeStateDir}
	conflict = []error{session.ErrConflict, session.ErrRunning}
)

// ExitCode maps an error returned by a command to the process exit code.
func ExitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	var exit *ExitError
	if errors.As(err, &exit) {
		return exit.Code
	}
	if errors.Is(err, context.Canceled) {
		return ExitInterrupted
	}
	for _, sentinel := range invalidInput {
		if errors.Is(err, sentinel) {
			return ExitInvalid
		}
	}
	for _, sentinel := range conflict {
		if errors.Is(err, sentinel) {
			return ExitConflict
		}
	}
	return ExitFailure
}
