package bmc

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestLogToKeepsLinesWhole(t *testing.T) {
	var buf bytes.Buffer
	log := LogTo(&buf)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 100 {
				log("goroutine %d line %d", i, j)
			}
		})
	}
	wg.Wait()
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	assert.Len(t, lines, 800)
	for _, line := range lines {
		var i, j int
		_, err := fmt.Sscanf(line, "goroutine %d line %d", &i, &j)
		assert.NoError(t, err, "torn line %q", line)
	}
}
