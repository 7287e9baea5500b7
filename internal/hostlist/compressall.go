package hostlist

import (
	"strings"
	"sync"
)

// CompressAll returns the Compress expression of each list. Compressing
// 10,000 names is most of what printing a large session costs, and lists
// repeat (every phase of a clean reboot succeeds on the same nodes): each
// distinct list is compressed once, the distinct ones concurrently.
func CompressAll(lists [][]string) []string {
	keys := make([]string, len(lists))
	distinct := map[string][]string{}
	for i, nodes := range lists {
		keys[i] = strings.Join(nodes, "\n")
		distinct[keys[i]] = nodes
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	byKey := make(map[string]string, len(distinct))
	for key, nodes := range distinct {
		wg.Go(func() {
			expr := Compress(nodes)
			mu.Lock()
			byKey[key] = expr
			mu.Unlock()
		})
	}
	wg.Wait()
	out := make([]string, len(lists))
	for i, key := range keys {
		out[i] = byKey[key]
	}
	return out
}
