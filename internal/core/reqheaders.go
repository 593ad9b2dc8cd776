package core

import (
	"bytes"

	"github.com/fiber-caches/cache/internal/core/rfc"
	"github.com/valyala/fasthttp"
)

// reqHeaders holds the request headers the hit path reads, found in one
// pass over the request and matched case-insensitively whatever
// fiber.Config says. The values alias the request: scan again after the
// request's headers change.
//
// Every line counts. If-None-Match is a list: its lines are joined. Of
// If-Modified-Since, Range and If-Range one value is valid, so two lines
// are none (RFC 9110 §13.1.3: If-Modified-Since with more than one member
// is ignored; §13.1.5: an If-Range that does not match means the whole
// representation; §14.2: a Range may be ignored), and the client gets the
// whole response: the choice is the cache's, as the handler never sees
// these headers (fetch.go takes them away while it runs).
//
// The same pass also reads what Fiber's c.Hostname() and c.Protocol()
// would (fwdHost, scheme), exactly as they read it: case-sensitive names,
// the first X-Forwarded-Host, the last scheme header. Each of those calls
// would visit the headers again.
type reqHeaders struct {
	inm, ims, rng, ifRange []byte
	cacheControl           bool   // a Cache-Control or Pragma line is present
	anyFwdHost             bool   // an X-Forwarded-Host line, in any case
	ae                     []byte // every Accept-Encoding line, each followed by ','
	inmBuf                 []byte // If-None-Match lines joined, when there are several
	lines                  uint8  // the single-value headers seen on more than one line

	fwdHost     []byte // the first "X-Forwarded-Host" line (Fiber's Peek), up to a comma
	fwdHostSeen bool
	scheme      []byte // what Fiber's Protocol reads from the headers; nil: http
}

var (
	strHTTPS = []byte("https")
	strOn    = []byte("on")
)

// The single-value request headers, as bits of reqHeaders.lines.
const (
	lineIMS uint8 = 1 << iota
	lineRange
	lineIfRange
)

// single keeps v, the value of a line of a header of which one value is
// valid, in *dst, and records in rh.lines when it is not the first line.
func (rh *reqHeaders) single(dst *[]byte, v []byte, bit uint8, seen *uint8) {
	if *seen&bit != 0 {
		rh.lines |= bit
	}
	*seen |= bit
	*dst = v
}

func (rh *reqHeaders) scan(h *fasthttp.RequestHeader) {
	ae, inmBuf := rh.ae[:0], rh.inmBuf[:0]
	*rh = reqHeaders{ae: ae, inmBuf: inmBuf}
	var seen uint8
	h.VisitAll(func(k, v []byte) {
		switch len(k) {
		case 5:
			if rfc.EqualFold(k, "range") {
				rh.single(&rh.rng, v, lineRange, &seen)
			}
		case 6:
			if rfc.EqualFold(k, "pragma") {
				rh.cacheControl = true
			}
		case 8:
			if rfc.EqualFold(k, "if-range") {
				rh.single(&rh.ifRange, v, lineIfRange, &seen)
			}
		case 12:
			if string(k) == "X-Url-Scheme" {
				rh.scheme = v
			}
		case 13:
			switch {
			case rfc.EqualFold(k, "if-none-match"):
				rh.addINM(v)
			case rfc.EqualFold(k, "cache-control"):
				rh.cacheControl = true
			}
		case 15:
			switch {
			case string(k) == "X-Forwarded-Ssl" && bytes.Equal(v, strOn):
				rh.scheme = strHTTPS
			case rfc.EqualFold(k, "accept-encoding"):
				rh.ae = append(rh.ae, v...) // rare to repeat; joined for acceptsCoding
				rh.ae = append(rh.ae, ',')
			}
		case 16:
			if rfc.EqualFold(k, "x-forwarded-host") {
				rh.anyFwdHost = true
				if !rh.fwdHostSeen && string(k) == fasthttp.HeaderXForwardedHost {
					rh.fwdHostSeen = true
					rh.fwdHost = v
					if i := bytes.IndexByte(v, ','); i >= 0 {
						rh.fwdHost = v[:i]
					}
				}
			}
		case 17:
			switch {
			case rfc.EqualFold(k, "if-modified-since"):
				rh.single(&rh.ims, v, lineIMS, &seen)
			case string(k) == "X-Forwarded-Proto":
				rh.scheme = upToComma(v)
			}
		case 20:
			if string(k) == "X-Forwarded-Protocol" {
				rh.scheme = upToComma(v)
			}
		}
	})
	if rh.lines != 0 {
		if rh.lines&lineIMS != 0 {
			rh.ims = nil
		}
		if rh.lines&(lineRange|lineIfRange) != 0 {
			rh.rng, rh.ifRange = nil, nil
		}
	}
}

// addINM adds an If-None-Match line: the first is kept as it is, later
// ones are joined to it with a comma (a list, RFC 9110 §5.3).
func (rh *reqHeaders) addINM(v []byte) {
	switch {
	case rh.inm == nil:
		rh.inm = v
	default:
		if len(rh.inmBuf) == 0 {
			rh.inmBuf = append(rh.inmBuf, rh.inm...)
		}
		rh.inmBuf = append(append(rh.inmBuf, ','), v...)
		rh.inm = rh.inmBuf
	}
}

func upToComma(v []byte) []byte {
	if i := bytes.IndexByte(v, ','); i >= 0 {
		return v[:i]
	}
	return v
}
