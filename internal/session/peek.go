package session

import (
	"fmt"
	"os"
)

// Peek lists the sessions of state directory dir, newest first, without
// changing anything there: a directory that does not exist is not created,
// nor one open to other users made private (Open does both, and says so;
// a shell completion must not, as the shell would hide the notice).
func Peek(dir string) ([]ListRow, error) {
	info, err := os.Stat(dir)
	if err != nil {
		return nil, err
	}
	if info.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("state directory %s is open to other users", dir)
	}
	store, err := Open(dir)
	if err != nil {
		return nil, err
	}
	defer store.Close()
	return store.List(Filter{})
}
