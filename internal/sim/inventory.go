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
	passwordPath := path + ".password"
	if err := os.WriteFile(passwordPath, []byte(f.password), 0o600); err != nil {
		return fmt.Errorf("sim: write password file: %w", err)
	}
	// WriteFile keeps the mode of an existing file; the password must not
	// stay readable by others because an older file was.
	if err := os.Chmod(passwordPath, 0o600); err != nil {
		return fmt.Errorf("sim: restrict password file: %w", err)
	}
	var doc strings.Builder
	fmt.Fprintf(&doc, "# written by bos sim: %d simulated BMCs, profile %s\n", len(f.nodes), f.profile)
	doc.WriteString("defaults:\n")
	fmt.Fprintf(&doc, "  username: %q\n", f.username)
	fmt.Fprintf(&doc, "  password_file: %s\n", filepath.Base(passwordPath))
	doc.WriteString("  auth: session\n")
	if f.caPEM != nil {
		caPath := path + ".ca.pem"
		if err := os.WriteFile(caPath, f.caPEM, 0o644); err != nil {
			return fmt.Errorf("sim: write CA file: %w", err)
		}
		fmt.Fprintf(&doc, "  ca_file: %s\n", filepath.Base(caPath))
	}
	doc.WriteString("nodes:\n")
	for _, n := range f.nodes {
		info := n.info()
		fmt.Fprintf(&doc, "  - name: %s\n    bmc: %s\n    system: %s\n    role: Compute\n    groups: [sim, %s]\n    partition: p1\n    enabled: true\n",
			info.Name, info.Endpoint, info.System, n.profile.name)
	}
	// Written aside and renamed into place: scripts (make demo) wait for
	// the file to appear and must never read half of it.
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(doc.String()), 0o644); err != nil {
		return fmt.Errorf("sim: write inventory: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("sim: write inventory: %w", err)
	}
	return nil
}
