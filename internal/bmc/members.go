package bmc

import (
	"encoding/json"
	"reflect"
	"strings"
	"sync"
)

// decodeMembers decodes body, a JSON object, into fields, a pointer to a
// struct, as json.Unmarshal does, but hands json.Unmarshal only the
// object's members that fields has a field for. A ComputerSystem is a few
// kilobytes of which a poll needs one member: json.Unmarshal checks the
// whole of it and then walks it again, allocating as it goes; skipping the
// members nobody reads first made decoding a poll's answer several times
// cheaper. The members skipped are not checked, only walked over: a
// malformed value where bos reads nothing is no longer an error. Anything
// unusual (a key with escapes, a body that is not one object, a struct
// with embedded fields) is decoded whole.
func decodeMembers(body []byte, fields any) error {
	names := memberNames(reflect.TypeOf(fields))
	if names == nil {
		return json.Unmarshal(body, fields)
	}
	buf := memberBuffers.Get().(*[]byte)
	defer memberBuffers.Put(buf)
	picked, ok := pickMembers((*buf)[:0], body, names)
	*buf = picked[:0]
	if !ok {
		return json.Unmarshal(body, fields)
	}
	return json.Unmarshal(picked, fields)
}

var memberBuffers = sync.Pool{New: func() any { return new([]byte) }}

// fieldNames caches memberNames per type.
var fieldNames sync.Map // reflect.Type → []string (nil: decode whole)

// memberNames are the member names json.Unmarshal would decode into the
// struct t points to (it also takes a name in another case), nil when
// pickMembers cannot stand in for it.
func memberNames(t reflect.Type) []string {
	if names, ok := fieldNames.Load(t); ok {
		return names.([]string)
	}
	var names []string
	if t.Kind() == reflect.Pointer && t.Elem().Kind() == reflect.Struct {
		names = []string{}
		for field := range t.Elem().Fields() {
			if field.Anonymous {
				names = nil
				break
			}
			if !field.IsExported() {
				continue
			}
			name, _, _ := strings.Cut(field.Tag.Get("json"), ",")
			switch name {
			case "-":
				if field.Tag.Get("json") == "-" {
					continue
				}
			case "":
				name = field.Name
			}
			names = append(names, name)
		}
	}
	fieldNames.Store(t, names)
	return names
}

// pickMembers appends to out the JSON object holding the members of body,
// an object, named in names (in any case, as json.Unmarshal matches them),
// in body's order. ok is false when body is not one object pickMembers can
// walk: json.Unmarshal then has the whole body, and says what is wrong.
func pickMembers(out, body []byte, names []string) (_ []byte, ok bool) {
	i := skipSpace(body, 0)
	if i == len(body) || body[i] != '{' {
		return out, false
	}
	out = append(out, '{')
	first := true
	i = skipSpace(body, i+1)
	if i < len(body) && body[i] == '}' {
		return append(out, '}'), skipSpace(body, i+1) == len(body)
	}
	for {
		if i == len(body) || body[i] != '"' {
			return out, false
		}
		keyStart := i
		keyEnd := skipString(body, i)
		if keyEnd < 0 {
			return out, false
		}
		key := body[keyStart+1 : keyEnd-1]
		if strings.IndexByte(string(key), '\\') >= 0 {
			return out, false
		}
		i = skipSpace(body, keyEnd)
		if i == len(body) || body[i] != ':' {
			return out, false
		}
		valueStart := skipSpace(body, i+1)
		valueEnd := skipValue(body, valueStart)
		if valueEnd < 0 {
			return out, false
		}
		if wanted(string(key), names) {
			if !first {
				out = append(out, ',')
			}
			first = false
			out = append(out, body[keyStart:keyEnd]...)
			out = append(out, ':')
			out = append(out, body[valueStart:valueEnd]...)
		}
		i = skipSpace(body, valueEnd)
		if i == len(body) {
			return out, false
		}
		switch body[i] {
		case ',':
			i = skipSpace(body, i+1)
		case '}':
			return append(out, '}'), skipSpace(body, i+1) == len(body)
		default:
			return out, false
		}
	}
}

func wanted(key string, names []string) bool {
	for _, name := range names {
		if strings.EqualFold(key, name) {
			return true
		}
	}
	return false
}

func skipSpace(body []byte, i int) int {
	for i < len(body) {
		switch body[i] {
		case ' ', '\t', '\r', '\n':
			i++
		default:
			return i
		}
	}
	return i
}

// skipString returns the index just past the string starting at body[i]
// (a quote), or -1 when it does not end.
func skipString(body []byte, i int) int {
	for i++; i < len(body); i++ {
		switch body[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return -1
}

// skipValue returns the index just past the value starting at body[i], or
// -1 when there is none or it does not end. Objects and arrays are walked
// for their end only, strings inside them skipped whole.
func skipValue(body []byte, i int) int {
	if i >= len(body) {
		return -1
	}
	switch body[i] {
	case '"':
		return skipString(body, i)
	case '{', '[':
		depth := 0
		for ; i < len(body); i++ {
			switch body[i] {
			case '"':
				end := skipString(body, i)
				if end < 0 {
					return -1
				}
				i = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
		}
		return -1
	case ',', '}', ']', ':':
		return -1
	}
	// A number or a literal: up to the next delimiter.
	start := i
	for i < len(body) {
		switch body[i] {
		case ',', '}', ']', ' ', '\t', '\r', '\n':
			return i
		}
		i++
	}
	if i == start {
		return -1
	}
	return i
}
