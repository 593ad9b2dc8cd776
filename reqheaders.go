package cache

import (
	"github.com/fiber-caches/cache/internal/rfc"
	"github.com/valyala/fasthttp"
)

// reqHeaders holds the request headers the hit path reads, found in one
// pass over the request and matched case-insensitively whatever
// fiber.Config says. The values alias the request: scan again after the
// request's headers change.
type reqHeaders struct {
	xfh, inm, ims, rng, ifRange []byte
	cacheControl                bool // a Cache-Control or Pragma line is present
}

func (rh *reqHeaders) scan(h *fasthttp.RequestHeader) {
	*rh = reqHeaders{}
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
		case 13:
			switch {
			case rfc.EqualFold(k, "if-none-match"):
				rh.inm = v
			case rfc.EqualFold(k, "cache-control"):
				rh.cacheControl = true
			}
		case 16:
			if rfc.EqualFold(k, "x-forwarded-host") {
				rh.xfh = v
			}
		case 17:
			if rfc.EqualFold(k, "if-modified-since") {
				rh.ims = v
			}
		}
	})
}
