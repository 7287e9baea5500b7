package configure

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
)

// process is one runner program to start.
type process struct {
	argv  []string
	env   []string // added to bos's own environment; later entries win
	dir   string
	stdin io.Reader
	// onStdout sees every stdout line; stderr lines go to the log.
	onStdout func(line string)
	// scrub, when set, removes secrets from stderr lines before anyone
	// sees them.
	scrub func(line string) string
}

// exitStatus is how a runner program ended.
type exitStatus struct {
	code   int
	stderr stderrSummary
}

func (s exitStatus) String() string {
	if why := s.stderr.String(); why != "" {
		return fmt.Sprintf("status %d: %s", s.code, why)
	}
	return fmt.Sprintf("status %d", s.code)
}

// run starts p in its own process group and waits for it. When ctx ends the
// whole group gets SIGTERM, then SIGKILL after KillGrace, so nothing the
// runner started (Ansible's forks, ssh) outlives the session. A non-zero
// exit is not an error here: per-node results decide.
func (r *Runner) run(ctx context.Context, p process, log *batchLog) (exitStatus, error) {
	var status exitStatus
	cmd := exec.CommandContext(ctx, p.argv[0], p.argv[1:]...)
	cmd.Env = childEnv(os.Environ(), r.opts.SecretEnv, p.env)
	cmd.Dir = p.dir
	cmd.Stdin = p.stdin
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return killGroup(cmd.Process.Pid, syscall.SIGTERM) }
	// WaitDelay also bounds the wait for output pipes a daemonised
	// grandchild may hold open after the runner itself exited.
	cmd.WaitDelay = r.opts.KillGrace
	stdout := &lineWriter{onLine: p.onStdout}
	stderr := &lineWriter{onLine: func(line string) {
		if p.scrub != nil {
			line = p.scrub(line)
		}
		status.stderr.add(line)
		log.line(line)
	}}
	cmd.Stdout, cmd.Stderr = stdout, stderr

	log.printf("run: %s", filepath.Base(p.argv[0]))
	if err := cmd.Start(); err != nil {
		return status, fmt.Errorf("start %s: %w", p.argv[0], err)
	}
	waitErr := cmd.Wait()
	stdout.flush()
	stderr.flush()
	if ctx.Err() != nil {
		// The leader is gone; finish off whatever ignored SIGTERM.
		_ = killGroup(cmd.Process.Pid, syscall.SIGKILL)
		return status, fmt.Errorf("%s stopped: %w", filepath.Base(p.argv[0]), context.Cause(ctx))
	}
	var exitErr *exec.ExitError
	if waitErr != nil && !errors.As(waitErr, &exitErr) && !errors.Is(waitErr, exec.ErrWaitDelay) {
		return status, fmt.Errorf("wait for %s: %w", p.argv[0], waitErr)
	}
	status.code = cmd.ProcessState.ExitCode()
	log.printf("exited with %s", status)
	return status, nil
}

// childEnv is a runner's environment: bos's own without the variables
// named in secret, then extra (later entries win).
func childEnv(environ, secret, extra []string) []string {
	env := make([]string, 0, len(environ)+len(extra))
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if !slices.Contains(secret, name) {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

// killGroup signals every process of the group led by pid; a group that
// is already gone is not an error.
func killGroup(pid int, sig syscall.Signal) error {
	if err := syscall.Kill(-pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("signal process group %d: %w", pid, err)
	}
	return nil
}
