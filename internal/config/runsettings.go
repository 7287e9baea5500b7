package config

import (
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/viper"
)

// A session keeps the settings it ran with, so that resuming or retrying
// it, from any directory and under any environment, runs as it did. It
// keeps those of scope SessionRun (the ones each command running a session
// takes as flags) that differ from their defaults, as given: short enough
// to print as the flags of a command line, and the others are known.

// runSettings are the SessionRun settings whose value in v differs from
// their default, by key, as given.
func runSettings(v *viper.Viper) map[string]string {
	run := map[string]string{}
	for _, s := range SettingsIn(SessionRun) {
		if s.Kind() == FlagSwitch {
			if v.GetBool(s.Key) {
				run[s.Key] = "true"
			}
			continue
		}
		if value := strings.TrimSpace(v.GetString(s.Key)); !sameValue(value, s.Default) {
			run[s.Key] = value
		}
	}
	return run
}

// sameValue reports whether two values of a setting mean the same: "300",
// "300s" and "5m" do, as do "3" and "03".
func sameValue(a, b string) bool {
	da, errA := Duration(a)
	db, errB := Duration(b)
	if errA == nil && errB == nil {
		return da == db
	}
	return a == b
}

// UseRunSettings sets c's SessionRun settings to those a session ran with,
// as RunSettings kept them (a setting absent from them was at its
// default), except those given says this invocation gives explicitly,
// which keep their value. c.RunSettings then says what c runs with.
func (c *Config) UseRunSettings(settings map[string]string, given func(key string) bool) error {
	runScope := SettingsIn(SessionRun)
	for key := range settings {
		if !slices.ContainsFunc(runScope, func(s Setting) bool { return s.Key == key }) {
			return fmt.Errorf("%w: the session ran with setting %q, which this version of bos does not know", ErrInvalid, key)
		}
	}
	l := loader{v: viper.New()}
	run := map[string]string{}
	for _, s := range runScope {
		if given(s.Key) {
			if value, ok := c.RunSettings[s.Key]; ok {
				run[s.Key] = value
			}
			continue
		}
		value, kept := settings[s.Key]
		if !kept {
			value = s.Default
		}
		l.v.Set(s.Key, value)
		if err := s.field.load(l, s.Key, c); err != nil {
			return fmt.Errorf("%w: %s %q, which the session ran with: %w", ErrInvalid, s.Key, value, err)
		}
		if kept {
			run[s.Key] = value
		}
	}
	c.RunSettings = run
	return nil
}
