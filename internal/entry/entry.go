// Package entry defines what fibercache keeps in storage and the compact,
// versioned binary format it uses with every fiber.Storage but the
// in-process default.
package entry

// Kind tells what a stored record is.
type Kind uint8

const (
	// KindResponse is a stored response.
	KindResponse Kind = 1
	// KindVary says that the responses of a URL vary on request headers:
	// they are stored under keys derived from Names and Nonce.
	KindVary Kind = 2
	// KindGen holds the invalidation generation of a URL.
	KindGen Kind = 3
)

// Header is one stored response header. First is true for the first
// occurrence of its name in the entry, so a replay can Set the first value
// and Add the others without searching.
type Header struct {
	Key   []byte
	Value []byte
	First bool
}

// Entry is one stored record. Which fields matter depends on Kind.
type Entry struct {
	Kind Kind

	// KindResponse.
	Head    bool  // stored from a HEAD request: never answers a GET
	Status  int   // response status code
	Stored  int64 // when it was stored, Unix nanoseconds
	Expires int64 // when it stops being fresh (any kind: when it may go), Unix nanoseconds; 0: never
	Headers []Header
	Body    []byte

	// KindVary.
	Names []string // lower-case request header names, sorted
	// KindVary and KindGen: a random value that changes on every invalidation.
	Nonce [16]byte
}

// Fresh reports whether a response entry may still be served at now
// (Unix nanoseconds).
func (e *Entry) Fresh(now int64) bool {
	return e.Expires == 0 || now < e.Expires
}

// Weight estimates the bytes the entry holds in memory, overheads included;
// the in-process store bounds the sum of the weights.
func (e *Entry) Weight() uint32 {
	const (
		fixed     = 320 // Entry struct, map node, key, slice headers
		perHeader = 56  // Header struct
	)
	n := fixed + len(e.Body)
	for _, h := range e.Headers {
		n += perHeader + len(h.Key) + len(h.Value)
	}
	for _, s := range e.Names {
		n += 16 + len(s)
	}
	if n > 1<<31 {
		n = 1 << 31
	}
	return uint32(n)
}
