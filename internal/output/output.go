// Package output renders command results: kubectl-style plain tables for
// people, JSON, YAML and TOML for scripts. JSON field names come from the
// data types' json tags and are the documented, stable contract; YAML and
// TOML are derived from the JSON so all agree.
package output

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"runtime"
	"strings"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/tw"
	"github.com/pelletier/go-toml/v2"
	"go.yaml.in/yaml/v3"
	"golang.org/x/sync/errgroup"
)

// Format is the -o value.
type Format string

const (
	FormatTable Format = "table"
	FormatWide  Format = "wide"
	FormatJSON  Format = "json"
	FormatYAML  Format = "yaml"
	// FormatTOML is for the Cray CLI's --format toml.
	FormatTOML Format = "toml"
)

// TOMLListKey holds a list in TOML output: a TOML document is a table, and
// results is where the Cray CLI puts a list.
const TOMLListKey = "results"

// Structured reports whether the format is meant for programs.
func (f Format) Structured() bool { return f == FormatJSON || f == FormatYAML || f == FormatTOML }

// Data writes v as JSON, YAML or TOML. TOML has no null: a null field is
// left out, and a list is written under TOMLListKey.
func Data(w io.Writer, f Format, v any) error {
	switch f {
	case FormatJSON:
		return writeJSON(w, v)
	case FormatYAML:
		generic, err := fromJSON(v)
		if err != nil {
			return err
		}
		enc := yaml.NewEncoder(w)
		enc.SetIndent(2)
		if err := enc.Encode(generic); err != nil {
			return err
		}
		return enc.Close()
	case FormatTOML:
		generic, err := fromJSON(v)
		if err != nil {
			return err
		}
		if _, table := generic.(map[string]any); !table {
			generic = map[string]any{TOMLListKey: generic}
		}
		enc := toml.NewEncoder(w)
		enc.SetIndentTables(true)
		return enc.Encode(generic)
	default:
		return fmt.Errorf("output format %q is not structured", f)
	}
}

// fromJSON is v as its JSON says, in maps, slices and numbers that keep
// their type: what YAML and TOML write, so they agree with the JSON.
func fromJSON(v any) (any, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var generic any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&generic); err != nil {
		return nil, err
	}
	return numbersAsYAML(generic), nil
}

// parallelJSONMinItems is the slice length from which writeJSON encodes the
// items on every CPU: a 10,000-session list is 3 MB of indented JSON.
const parallelJSONMinItems = 500

// writeJSON writes v indented by two spaces. A long slice is written item
// by item, each indented as it sits in the array, which gives the bytes
// json.Encoder would.
func writeJSON(w io.Writer, v any) error {
	items := reflect.ValueOf(v)
	if items.Kind() != reflect.Slice || items.Len() < parallelJSONMinItems {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	encoded := make([][]byte, items.Len())
	workers := runtime.GOMAXPROCS(0)
	perWorker := (len(encoded) + workers - 1) / workers
	var g errgroup.Group
	for from := 0; from < len(encoded); from += perWorker {
		g.Go(func() (err error) {
			for i := from; i < min(from+perWorker, len(encoded)); i++ {
				if encoded[i], err = json.MarshalIndent(items.Index(i).Interface(), "  ", "  "); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	bw := bufio.NewWriter(w)
	bw.WriteString("[\n  ")
	for i, item := range encoded {
		if i > 0 {
			bw.WriteString(",\n  ")
		}
		bw.Write(item)
	}
	bw.WriteString("\n]\n")
	return bw.Flush()
}

// numbersAsYAML turns json.Number back into ints or floats so YAML and
// TOML show 3 rather than "3".
func numbersAsYAML(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			t[k] = numbersAsYAML(e)
		}
	case []any:
		for i, e := range t {
			t[i] = numbersAsYAML(e)
		}
	case json.Number:
		if i, err := t.Int64(); err == nil {
			return i
		}
		if f, err := t.Float64(); err == nil {
			return f
		}
	}
	return v
}

// plainTableMinRows is the size from which Table renders with its own
// fixed-width writer: tablewriter measures and re-measures every cell, which
// costs about 30 µs a row (0.3 s for a 10,000-session list).
const plainTableMinRows = 500

// Table writes rows under an upper-case header, aligned in columns without
// borders, so the output greps and awks like kubectl's.
func Table(w io.Writer, header []string, rows [][]string) error {
	if len(rows) >= plainTableMinRows && plainCells(header, rows) {
		return plainTable(w, header, rows)
	}
	return fancyTable(w, header, rows)
}

// fancyTable renders with tablewriter, which knows display widths, wide
// runes and multi-line cells.
func fancyTable(w io.Writer, header []string, rows [][]string) error {
	var buf bytes.Buffer
	table := tablewriter.NewTable(&buf,
		tablewriter.WithRendition(tw.Rendition{
			Borders: tw.BorderNone,
			Symbols: tw.NewSymbols(tw.StyleNone),
			Settings: tw.Settings{
				Separators: tw.Separators{BetweenColumns: tw.Off, BetweenRows: tw.Off, ShowHeader: tw.Off},
				Lines:      tw.Lines{ShowTop: tw.Off, ShowBottom: tw.Off, ShowHeaderLine: tw.Off},
			},
		}),
		tablewriter.WithHeaderAlignment(tw.AlignLeft),
		tablewriter.WithRowAlignment(tw.AlignLeft),
		tablewriter.WithRowAutoWrap(tw.WrapNone),
		tablewriter.WithHeaderAutoWrap(tw.WrapNone),
		tablewriter.WithPadding(tw.Padding{Left: "", Right: "  ", Overwrite: true}),
		tablewriter.WithTrimSpace(tw.Off),
	)
	table.Header(toAny(header)...)
	for _, r := range rows {
		if err := table.Append(toAny(r)...); err != nil {
			return err
		}
	}
	if err := table.Render(); err != nil {
		return err
	}
	// The padding that separates columns also trails the last one; trim it
	// so lines compare and paste cleanly.
	for _, line := range bytes.SplitAfter(buf.Bytes(), []byte("\n")) {
		trimmed := bytes.TrimRight(line, " \n")
		if len(trimmed) == 0 && len(line) == 0 {
			continue
		}
		if _, err := w.Write(append(trimmed, '\n')); err != nil {
			return err
		}
	}
	return nil
}

// plainCells reports whether plainTable renders these cells as tablewriter
// would: one column per header and every cell single-line printable ASCII,
// whose display width is its length.
func plainCells(header []string, rows [][]string) bool {
	for _, row := range append([][]string{header}, rows...) {
		if len(row) != len(header) {
			return false
		}
		for _, cell := range row {
			for i := range len(cell) {
				if cell[i] < ' ' || cell[i] > '~' {
					return false
				}
			}
		}
	}
	return true
}

// plainTable writes what fancyTable writes for plain cells, in two passes:
// column widths, then each cell padded to its width plus a two-space gap,
// trailing spaces trimmed.
func plainTable(w io.Writer, header []string, rows [][]string) error {
	titles := make([]string, len(header))
	widths := make([]int, len(header))
	for i, h := range header {
		// tablewriter's header auto-format, so both paths title alike.
		titles[i] = tw.Title(strings.Join(tw.SplitCamelCase(h), " "))
		widths[i] = len(titles[i])
	}
	for _, row := range rows {
		for i, cell := range row {
			widths[i] = max(widths[i], len(cell))
		}
	}
	bw := bufio.NewWriter(w)
	var line []byte
	for _, row := range append([][]string{titles}, rows...) {
		line = line[:0]
		for i, cell := range row {
			line = append(line, cell...)
			for range widths[i] - len(cell) + 2 {
				line = append(line, ' ')
			}
		}
		line = append(bytes.TrimRight(line, " "), '\n')
		if _, err := bw.Write(line); err != nil {
			return err
		}
	}
	return bw.Flush()
}

func toAny(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}
