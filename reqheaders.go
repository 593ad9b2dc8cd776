package cache

import (
	"bytes"

	"github.com/fiber-caches/cache/internal/rfc"
	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"
)

// reqHeaders holds the request headers the hit path reads, found in one
// pass over the request and matched case-insensitively whatever
// fiber.Config says. The values alias the request: scan again after the
// request's headers change.
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

	fwdHost     []byte // the first "X-Forwarded-Host" line (Fiber's Peek), up to a comma
	fwdHostSeen bool
	scheme      []byte // what Fiber's Protocol reads from the headers; nil: http
}

var (
	strHTTPS = []byte("https")
	strOn    = []byte("on")
)

func (rh *reqHeaders) scan(h *fasthttp.RequestHeader) {
	ae := rh.ae[:0]
	*rh = reqHeaders{ae: ae}
	h.VisitAll(func(k, v []byte) {
		switch len(k) {
		case 5:
			if rfc.EqualFold(k, "range") {
				rh.rng = v
			}
		case 6:
			if rfc.EqualFold(k, "pragma") {
				rh.cacheControl = true
			}
		case 8:
			if rfc.EqualFold(k, "if-range") {
				rh.ifRange = v
			}
		case 12:
			if string(k) == fiber.HeaderXUrlScheme {
				rh.scheme = v
			}
		case 13:
			switch {
			case rfc.EqualFold(k, "if-none-match"):
				rh.inm = v
			case rfc.EqualFold(k, "cache-control"):
				rh.cacheControl = true
			}
		case 15:
			switch {
			case string(k) == fiber.HeaderXForwardedSsl && bytes.Equal(v, strOn):
				rh.scheme = strHTTPS
			case rfc.EqualFold(k, "accept-encoding"):
				rh.ae = append(rh.ae, v...) // rare to repeat; joined for acceptsCoding
				rh.ae = append(rh.ae, ',')
			}
		case 16:
			if rfc.EqualFold(k, "x-forwarded-host") {
				rh.anyFwdHost = true
				if !rh.fwdHostSeen && string(k) == fiber.HeaderXForwardedHost {
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
				rh.ims = v
			case string(k) == fiber.HeaderXForwardedProto:
				rh.scheme = upToComma(v)
			}
		case 20:
			if string(k) == fiber.HeaderXForwardedProtocol {
				rh.scheme = upToComma(v)
			}
		}
	})
}

func upToComma(v []byte) []byte {
	if i := bytes.IndexByte(v, ','); i >= 0 {
		return v[:i]
	}
	return v
}
