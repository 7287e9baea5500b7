package sim

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// WriteInventory writes an inventory for this fleet to path, the password to
// path+".password" (mode 0600) and, with TLS, the CA to path+".ca.pem", so
// the inventory works as written. The files it references are named
// relative to the inventory's directory.
func (f *Fleet) WriteInventory(path string) error {
	// The examples write to a fresh directory such as /tmp/sim.
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("sim: create inventory directory: %w", err)
	}
	// Every file is written aside and renamed into place: a script (make
	// demo) or a bos run that finds the inventory, or the files of a fleet
	// started before this one at the same path, must never read half of one.
	passwordPath := path + ".password"
	if err := replaceFile(passwordPath, []byte(f.password), 0o600); err != nil {
		return fmt.Errorf("sim: write password file: %w", err)
	}
	var doc strings.Builder
	fmt.Fprintf(&doc, "# written by bos sim: %d simulated nodes on %d BMCs, profile %s\n", len(f.nodes), len(f.bmcs), f.profile)
	doc.WriteString("defaults:\n")
	fmt.Fprintf(&doc, "  username: %q\n", f.username)
	fmt.Fprintf(&doc, "  password_file: %s\n", filepath.Base(passwordPath))
	// auto: a fleet with no-session-service BMCs works as written.
	doc.WriteString("  auth: auto\n")
	if f.caPEM != nil {
		caPath := path + ".ca.pem"
		if err := replaceFile(caPath, f.caPEM, 0o644); err != nil {
			return fmt.Errorf("sim: write CA file: %w", err)
		}
		fmt.Fprintf(&doc, "  ca_file: %s\n", filepath.Base(caPath))
	}
	doc.WriteString("nodes:\n")
	for _, n := range f.nodes {
		info := n.info()
		fmt.Fprintf(&doc, "  - name: %s\n    bmc: %s\n    system: %s\n    role: Compute\n    groups: [sim, %s]\n    partition: p1\n    enabled: true\n",
			info.Name, info.Endpoint, info.System, n.layout.name)
	}
	if err := replaceFile(path, []byte(doc.String()), 0o644); err != nil {
		return fmt.Errorf("sim: write inventory: %w", err)
	}
	return nil
}

// replaceFile writes data to a new file beside path with mode perm (a
// fresh file, so an older file's wider mode is not kept) and renames it
// over path.
func replaceFile(path string, data []byte, perm os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.Remove(tmp); err != nil && !os.IsNotExist(err) {
		return err
	}
	if err := os.WriteFile(tmp, data, perm); err != nil {
		return err
	}
	if err := os.Chmod(tmp, perm); err != nil { // whatever the umask took
		return err
	}
	return os.Rename(tmp, path)
}
