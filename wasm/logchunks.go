// The lab's log in localStorage, chunkSize entries to a key: appending an entry rewrites its
// chunk (at most chunkSize entries, whatever the log's length), and with writeBehind a stretch
// of simulation writes each chunk it touched once, where a key per entry cost the browser a
// write and later a removal per entry per node.

package main

import (
	"strconv"
	"strings"
)

// chunkSize is how many log entries share a key: raftlab/lab5/n3/log/64-127 holds entries
// 64 to 127, one a line, an empty line for an entry absent (compacted away, or not yet
// written); a line's backslashes and newlines are escaped as \\ and \n.
const chunkSize = 64

// logChunk is one chunk's entries, as stored (the core's text encoding of each).
type logChunk struct {
	key     string // its full key in the store
	e       [chunkSize]string
	n       int // entries present
	size    int // their length
	special int // entries with a backslash or a newline, which encodeChunk escapes
}

// set puts entry i (from the chunk's first), "" for none.
func (c *logChunk) set(i uint64, e string) {
	old := c.e[i]
	c.e[i] = e
	c.size += len(e) - len(old)
	c.n += b2i(e != "") - b2i(old != "")
	c.special += b2i(needsEscape(e)) - b2i(needsEscape(old))
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func needsEscape(e string) bool {
	return strings.IndexByte(e, '\\') >= 0 || strings.IndexByte(e, '\n') >= 0
}

// newLabStorage is a lab node's storage: its log in chunks.
func newLabStorage(kv KeyValue, cluster, id string, keys []string) *nodeStorage {
	s := newNodeStorage(kv, cluster, id, keys)
	s.chunks = make(map[uint64]*logChunk)
	return s
}

// entryIndex returns the index of a log entry's core key (log/12), and whether key is one.
func entryIndex(key string) (uint64, bool) {
	rest, ok := strings.CutPrefix(key, "log/")
	if !ok || rest == "" || rest[0] < '0' || rest[0] > '9' {
		return 0, false
	}
	i, err := strconv.ParseUint(rest, 10, 64)
	return i, err == nil
}

// chunkKey is the full key of the chunk that starts at entry first.
func (s *nodeStorage) chunkKey(first uint64) string {
	b := make([]byte, 0, len(s.prefix)+28)
	b = append(b, s.prefix...)
	b = append(b, "log/"...)
	b = strconv.AppendUint(b, first, 10)
	b = append(b, '-')
	b = strconv.AppendUint(b, first+chunkSize-1, 10)
	return string(b)
}

// chunk returns the chunk that starts at entry first, read from the store the first time.
func (s *nodeStorage) chunk(first uint64) *logChunk {
	if c, ok := s.chunks[first]; ok {
		return c
	}
	c := &logChunk{}
	key := s.chunkKey(first)
	if v, ok := s.lookup(key); ok {
		decodeChunk(v, c)
	}
	c.key = key
	s.chunks[first] = c
	return c
}

func encodeChunk(c *logChunk) string {
	last := chunkSize - 1
	for last >= 0 && c.e[last] == "" {
		last--
	}
	var b strings.Builder
	b.Grow(c.size + last + 1 + 2*c.special)
	for i, e := range c.e[:last+1] {
		if i > 0 {
			b.WriteByte('\n')
		}
		if c.special == 0 || !needsEscape(e) {
			b.WriteString(e)
			continue
		}
		for j := 0; j < len(e); j++ {
			switch e[j] {
			case '\\':
				b.WriteString(`\\`)
			case '\n':
				b.WriteString(`\n`)
			default:
				b.WriteByte(e[j])
			}
		}
	}
	return b.String()
}

// decodeChunk reads what encodeChunk wrote into c. Lines past chunkSize are left out (the
// core then finds the entries it misses, and says so).
func decodeChunk(v string, c *logChunk) {
	*c = logChunk{key: c.key}
	i := 0
	var b []byte
	escaped := strings.IndexByte(v, '\\') >= 0
	for start := 0; start <= len(v) && i < chunkSize; i++ {
		end := strings.IndexByte(v[start:], '\n')
		if end < 0 {
			end = len(v)
		} else {
			end += start
		}
		line := v[start:end]
		if escaped && strings.IndexByte(line, '\\') >= 0 {
			b = b[:0]
			for j := 0; j < len(line); j++ {
				if line[j] == '\\' && j+1 < len(line) {
					j++
					if line[j] == 'n' {
						b = append(b, '\n')
						continue
					}
				}
				b = append(b, line[j])
			}
			line = string(b)
		}
		c.set(uint64(i), line)
		start = end + 1
	}
}
