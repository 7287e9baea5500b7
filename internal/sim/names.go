package sim

import (
	"errors"
	"fmt"
	"io"
	"log"
	"net/netip"
	"regexp"
	"strconv"
)

// discardLogger silences per-connection server noise (TLS handshake errors
// from clients probing, closed connections) that would swamp a 10,000-node
// fleet's output.
var discardLogger = log.New(io.Discard, "", 0)

// namePrefixPattern keeps every generated name a valid inventory node name
// (which must start with a letter or digit) and a plain hostlist: no '.', no
// brackets or commas that hostlist expressions would read as ranges.
var namePrefixPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]*$`)

// CheckNamePrefix refuses a node name prefix that would make names the
// inventory rejects; empty keeps the default xnames.
func CheckNamePrefix(prefix string) error {
	if prefix == "" || namePrefixPattern.MatchString(prefix) {
		return nil
	}
	return errors.New("use letters, digits, '-' and '_', starting with a letter or digit")
}

// nodeNames returns the names of a fleet in index order (see the package
// comment for the scheme).
func nodeNames(count, perBMC int, prefix string) []string {
	names := make([]string, count)
	width := len(strconv.Itoa(count))
	for i := range names {
		if prefix != "" {
			names[i] = fmt.Sprintf("%s%0*d", prefix, width, i+1)
			continue
		}
		bmc := i / perBMC
		names[i] = fmt.Sprintf("x%dc%ds%db0n%d", 3000+bmc/512, (bmc/64)%8, bmc%64+1, i%perBMC)
	}
	return names
}

// bmcAddress is BMC i's own loopback address 127.1.x.y; y skips 0 and 255
// so no address looks like a network or broadcast address.
func bmcAddress(i int) netip.Addr {
	return netip.AddrFrom4([4]byte{127, 1, byte(i / 254), byte(i%254 + 1)})
}
