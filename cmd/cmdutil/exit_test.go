package cmdutil

import (
	"context"
	"errors"
	"fmt"
	"go/parser"
	"go/token"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bos-project/bos/internal/config"
	"github.com/bos-project/bos/internal/configure"
	"github.com/bos-project/bos/internal/engine"
	"github.com/bos-project/bos/internal/inventory"
	"github.com/bos-project/bos/internal/session"
	"github.com/bos-project/bos/internal/sessionrun"
	"github.com/bos-project/bos/internal/sim"
	"github.com/bos-project/bos/internal/template"
)

// TestExitCode pins the code of every error kind a command can return; the
// domain packages' sentinels carry theirs, so this is where a sentinel
// that lost its code shows.
func TestExitCode(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"success", nil, ExitOK},
		{"plain error", errors.New("disk full"), ExitFailure},
		{"usage", UsageError("--pace %q", "fast"), ExitInvalid},
		{"config", fmt.Errorf("load: %w", config.ErrInvalid), ExitInvalid},
		{"configuration", fmt.Errorf("run: %w", configure.ErrInvalid), ExitInvalid},
		{"template", fmt.Errorf("load: %w", template.ErrInvalid), ExitInvalid},
		{"template not found", fmt.Errorf("load: %w", template.ErrNotFound), ExitInvalid},
		{"inventory", fmt.Errorf("load: %w", inventory.ErrInvalid), ExitInvalid},
		{"limit", fmt.Errorf("parse: %w", inventory.ErrInvalidLimit), ExitInvalid},
		{"empty limit", inventory.ErrEmptyLimit, ExitInvalid},
		{"session request", fmt.Errorf("prepare: %w", sessionrun.ErrInvalid), ExitInvalid},
		{"plan", fmt.Errorf("run: %w", engine.ErrInvalidPlan), ExitInvalid},
		{"simulator options", fmt.Errorf("start: %w", sim.ErrInvalidOptions), ExitInvalid},
		{"state directory of another user", fmt.Errorf("open: %w", session.ErrUnsafeStateDir), ExitInvalid},
		{"conflict", &session.ConflictError{Session: "s", Nodes: []string{"n1"}}, ExitConflict},
		{"running", fmt.Errorf("delete: %w", session.ErrRunning), ExitConflict},
		{"not resumable", fmt.Errorf("resume: %w", sessionrun.ErrNotResumable), ExitFailure},
		{"nodes failed", &ExitError{Code: ExitNodesFailed, Err: errors.New("3 failed")}, ExitNodesFailed},
		{"interrupted", fmt.Errorf("session x: %w", context.Canceled), ExitInterrupted},
		{"cancelled by bos session cancel", sessionrun.ErrCancelRequested, ExitInterrupted},
		{"interrupted while checking input", fmt.Errorf("%w: template t: %w", sessionrun.ErrInvalid, context.Canceled), ExitInterrupted},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, ExitCode(tc.err))
		})
	}
}

// TestExitCodeIgnoresChildExitStatus: a failed child process (ansible) has
// an ExitCode() int of its own, which must never become bos's exit code.
func TestExitCodeIgnoresChildExitStatus(t *testing.T) {
	err := exec.Command("sh", "-c", "exit 7").Run()
	var exitErr *exec.ExitError
	require.ErrorAs(t, err, &exitErr)
	require.Equal(t, 7, exitErr.ExitCode())
	assert.Equal(t, ExitFailure, ExitCode(fmt.Errorf("configure n1: %w", err)))
}

// TestExitCodesNeedNoDomainPackage: errors carry their exit code, so the
// mapping imports none of the packages the errors come from, and a
// package adding an error kind does not change cmdutil.
func TestExitCodesNeedNoDomainPackage(t *testing.T) {
	file, err := parser.ParseFile(token.NewFileSet(), "exit.go", nil, parser.ImportsOnly)
	require.NoError(t, err)
	for _, spec := range file.Imports {
		path, err := strconv.Unquote(spec.Path.Value)
		require.NoError(t, err)
		if strings.Contains(path, ".") {
			assert.Equal(t, "github.com/bos-project/bos/internal/exitcode", path, "exit.go imports only the standard library and exitcode")
		}
	}
}
