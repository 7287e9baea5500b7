//go:build !unix

package sim

import "math"

// openFileLimit: systems without RLIMIT_NOFILE bound handles otherwise; the
// fleet then keeps every connection.
func openFileLimit() int { return math.MaxInt32 }
