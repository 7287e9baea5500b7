package session

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bos-project/bos/cmd/cmdutil"
	"github.com/bos-project/bos/internal/config"
	"github.com/bos-project/bos/internal/sessionrun"
)

// capture is a runF that keeps the options it is given.
func capture[T any](got *any) func(*T) error {
	return func(opts *T) error {
		*got = withoutGiven(opts)
		return nil
	}
}

// withoutGiven drops what a command line gives explicitly (a function,
// which no two values share) after checking it was taken;
// TestGivenInputs checks what it says.
func withoutGiven(opts any) any {
	var given *sessionrun.Given
	switch o := opts.(type) {
	case *ResumeOptions:
		given = &o.given
	case *RetryOptions:
		given = &o.given
	case *CancelOptions:
		given = &o.given
	case *RunDetachedOptions:
		given = &o.given
	default:
		return opts
	}
	if given.Setting == nil {
		panic("the command line's given inputs were not taken")
	}
	*given = sessionrun.Given{}
	return opts
}

// TestFlagsReachOptions drives every `bos session` command's flag parsing
// through its runF: what the command line says is what the run gets.
func TestFlagsReachOptions(t *testing.T) {
	ios, _, _ := cmdutil.Test()
	f := cmdutil.NewFactory(context.Background(), ios, config.New())
	var got any
	tests := []struct {
		name    string
		cmd     *cobra.Command
		args    []string
		want    any
		wantErr string
	}{
		{"create", NewCmdCreate(f, capture[CreateOptions](&got)),
			[]string{"-t", "compute", "--operation", "reboot", "-l", "x[1-4]", "--include-disabled", "--pace", "lockstep",
				"--dry-run", "--detach", "--graceful-shutdown-timeout", "60s"},
			&CreateOptions{Factory: f, TemplateRef: "compute", Operation: "reboot", Limit: "x[1-4]", IncludeDisabled: true,
				Pace: "lockstep", DryRun: true, Detach: true, forwarded: []string{"--graceful-shutdown-timeout=60s"}}, ""},
		{"create defaults", NewCmdCreate(f, capture[CreateOptions](&got)), []string{"--template", "c", "--operation", "boot"},
			&CreateOptions{Factory: f, TemplateRef: "c", Operation: "boot", Pace: "independent"}, ""},
		{"create without operation", NewCmdCreate(f, capture[CreateOptions](&got)), []string{"--template", "c"},
			nil, `required flag(s) "operation" not set`},
		{"list", NewCmdList(f, capture[ListOptions](&got)),
			[]string{"--status", "failed", "--operation", "reboot", "--template", "compute", "--min-age", "1h", "--max-age", "7d"},
			&ListOptions{Factory: f, Status: "failed", Operation: "reboot", Template: "compute", MinAge: "1h", MaxAge: "7d"}, ""},
		{"describe", NewCmdDescribe(f, capture[DescribeOptions](&got)), []string{"3f2a"},
			&DescribeOptions{Factory: f, ID: "3f2a"}, ""},
		{"delete", NewCmdDelete(f, capture[DeleteOptions](&got)), []string{"3f2a", "0b1c", "--force"},
			&DeleteOptions{Factory: f, IDs: []string{"3f2a", "0b1c"}, Force: true}, ""},
		{"delete older than", NewCmdDelete(f, capture[DeleteOptions](&got)), []string{"--older-than", "7d"},
			&DeleteOptions{Factory: f, IDs: []string{}, OlderThan: "7d"}, ""},
		{"delete neither", NewCmdDelete(f, capture[DeleteOptions](&got)), nil,
			nil, "give session IDs or --older-than D"},
		{"prune", NewCmdPrune(f, capture[PruneOptions](&got)), []string{"--older-than", "90d"},
			&PruneOptions{Factory: f}, ""},
		{"status", NewCmdStatus(f, capture[StatusOptions](&got)), []string{"3f2a", "-w"},
			&StatusOptions{Factory: f, ID: "3f2a", Watch: true}, ""},
		{"logs", NewCmdLogs(f, capture[LogsOptions](&got)), []string{"3f2a", "--follow"},
			&LogsOptions{Factory: f, ID: "3f2a", Follow: true}, ""},
		{"cancel", NewCmdCancel(f, capture[CancelOptions](&got)), []string{"3f2a", "--wait", "5s"},
			&CancelOptions{Factory: f, ID: "3f2a", Wait: 5 * time.Second}, ""},
		{"cancel waits a minute", NewCmdCancel(f, capture[CancelOptions](&got)), []string{"3f2a"},
			&CancelOptions{Factory: f, ID: "3f2a", Wait: time.Minute}, ""},
		{"resume", NewCmdResume(f, capture[ResumeOptions](&got)), []string{"3f2a", "--detach", "--boot-wait", "10m"},
			&ResumeOptions{Factory: f, ID: "3f2a", Detach: true, forwarded: []string{"--boot-wait=10m"}}, ""},
		{"retry", NewCmdRetry(f, capture[RetryOptions](&got)), []string{"3f2a", "--dry-run", "--max-concurrency", "50"},
			&RetryOptions{Factory: f, ID: "3f2a", DryRun: true, forwarded: []string{"--max-concurrency=50"}}, ""},
		{"retry unfinished", NewCmdRetry(f, capture[RetryOptions](&got)), []string{"3f2a", "--unfinished"},
			&RetryOptions{Factory: f, ID: "3f2a", Unfinished: true}, ""},
		{"run-detached", NewCmdRunDetached(f, capture[RunDetachedOptions](&got)), []string{"3f2a", "--lock-fd", "7"},
			&RunDetachedOptions{Factory: f, ID: "3f2a", LockFD: 7}, ""},
		{"run-detached takes the lock on 3", NewCmdRunDetached(f, capture[RunDetachedOptions](&got)), []string{"3f2a"},
			&RunDetachedOptions{Factory: f, ID: "3f2a", LockFD: 3}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got = nil
			tc.cmd.SetArgs(tc.args)
			tc.cmd.SetOut(io.Discard)
			tc.cmd.SetErr(io.Discard)
			err := tc.cmd.Execute()
			if tc.wantErr != "" {
				assert.ErrorContains(t, err, tc.wantErr)
				assert.Nil(t, got, "runF not called")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

// TestGivenInputs: the inputs a resume's command line gives are the ones
// that win over the session's own.
func TestGivenInputs(t *testing.T) {
	ios, _, _ := cmdutil.Test()
	f := cmdutil.NewFactory(context.Background(), ios, config.New())
	var given sessionrun.Given
	c := NewCmdResume(f, func(opts *ResumeOptions) error {
		given = opts.given
		return nil
	})
	c.SetArgs([]string{"3f2a", "--boot-wait", "10m"})
	c.SetOut(io.Discard)
	require.NoError(t, c.Execute())
	assert.False(t, given.Inventory, "--inventory not given")
	assert.True(t, given.Setting(config.KeyBootWait))
	assert.False(t, given.Setting(config.KeyPowerOnWait))
}
