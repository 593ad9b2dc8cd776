package core

import (
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// dateCache formats HTTP-dates (RFC 9110 §5.6.7), remembering the last
// second it formatted: responses stored within one second with the same
// lifetime share their Expires, which then costs a copy, not a format.
type dateCache struct{ last atomic.Pointer[formattedDate] }

type formattedDate struct {
	sec int64
	b   []byte
}

// append appends the HTTP-date of t to dst.
func (d *dateCache) append(dst []byte, t time.Time) []byte {
	sec := t.Unix()
	if f := d.last.Load(); f != nil && f.sec == sec {
		return append(dst, f.b...)
	}
	b := fasthttp.AppendHTTPDate(nil, time.Unix(sec, 0))
	d.last.Store(&formattedDate{sec: sec, b: b})
	return append(dst, b...)
}
