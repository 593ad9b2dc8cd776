package testkit

import "strings"

// Op is one call to a Storage, as its hooks see it.
type Op struct {
	// Name is "get", "set", "delete" or "reset".
	Name string
	// Key is the storage key; "" for a reset.
	Key string
	// Kind is what the key names: Kind(Key).
	Kind string
	// Value is, for a set, the value written and, in the after hook of a
	// get, the value read (nil when there was none). Hooks must not
	// modify it.
	Value []byte
}

// Kind tells what a storage key names, from the way the cache spells its
// keys: "path" (…{tag}:p), "names" (…{tag}:n), "entry" (…{tag}:e:<hash>),
// "epoch" (…:epoch), or "?" for anything else.
func Kind(key string) string {
	switch {
	case strings.HasSuffix(key, ":p"):
		return "path"
	case strings.HasSuffix(key, ":n"):
		return "names"
	case strings.Contains(key, ":e:"):
		return "entry"
	case strings.HasSuffix(key, ":epoch"):
		return "epoch"
	}
	return "?"
}
