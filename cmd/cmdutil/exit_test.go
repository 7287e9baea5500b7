package cmdutil

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/bos-project/bos/internal/inventory"
	"github.com/bos-project/bos/internal/session"
	"github.com/bos-project/bos/internal/template"
)

func TestExitCode(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"success", nil, ExitOK},
		{"plain error", errors.New("disk full"), ExitFailure},
		{"usage", UsageError("--pace %q", "fast"), ExitInvalid},
		{"template", fmt.Errorf("load: %w", template.ErrInvalid), ExitInvalid},
		{"inventory", fmt.Errorf("load: %w", inventory.ErrInvalid), ExitInvalid},
		{"limit", fmt.Errorf("parse: %w", inventory.ErrInvalidLimit), ExitInvalid},
		{"empty limit", inventory.ErrEmptyLimit, ExitInvalid},
		{"state directory of another user", fmt.Errorf("open: %w", session.ErrUnsafeStateDir), ExitInvalid},
		{"conflict", &session.ConflictError{Session: "s", Nodes: []string{"n1"}}, ExitConflict},
		{"nodes failed", &ExitError{Code: ExitNodesFailed, Err: errors.New("3 failed")}, ExitNodesFailed},
		{"interrupted", fmt.Errorf("session x: %w", context.Canceled), ExitInterrupted},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, ExitCode(tc.err))
		})
	}
}
