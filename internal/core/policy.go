package core

import (
	"time"

	"github.com/fiber-caches/cache/internal/core/entry"
	"github.com/fiber-caches/cache/internal/core/rfc"
	"github.com/valyala/fasthttp"
)

// reqDirectives is the request's Cache-Control, read in the shared-cache
// mode only (the zero value, in app mode, honours nothing).
type reqDirectives struct {
	rfc.RequestDirectives
	honor        bool
	noStore      bool
	onlyIfCached bool
}

// readRequestDirectives reads every Cache-Control line of the request, and
// Pragma: no-cache when there is none (RFC 9111 §5.4).
func readRequestDirectives(h *fasthttp.RequestHeader, raw bool) reqDirectives {
	d := reqDirectives{RequestDirectives: rfc.NewRequestDirectives(), honor: true}
	seen, pragma := false, false
	h.VisitAll(func(k, v []byte) {
		switch {
		case rfc.EqualFold(k, "cache-control"):
			seen = true
			d.Parse(v)
		case rfc.EqualFold(k, "pragma"):
			pragma = pragma || rfc.PragmaNoCache(v)
		}
	})
	if !seen && pragma {
		d.NoCache = true
	}
	d.noStore, d.onlyIfCached = d.NoStore, d.OnlyIfCached
	return d
}

// use is what serve does with a stored entry.
type use uint8

const (
	useFresh          use = iota // serve it
	useStale                     // serve it stale, and refresh it in the background if the window says so
	useRevalidate                // run the handler, conditionally when the entry has a validator
	useGatewayTimeout            // only-if-cached, nothing usable: 504
)

// usable decides how e may answer a request at now (RFC 9111 §4, RFC 5861),
// through rfc.Usable. expired makes e stale whatever its age (a tag of it
// was made stale by ExpireTags).
func (m *Cache) usable(e *entry.Entry, now int64, rd *reqDirectives, expired bool) use {
	if now < e.FreshUntil && !expired && e.Flags&entry.FlagNoCache == 0 && (rd == nil || !rd.honor) {
		return useFresh // the common case, without building rfc.UseInput
	}
	switch rfc.Usable(m.useInput(e, now, rd, false, expired)) {
	case rfc.UseFresh:
		return useFresh
	case rfc.UseStale, rfc.UseStaleWhileRevalidate:
		return useStale
	case rfc.UseOnlyIfCachedGatewayTimeout:
		return useGatewayTimeout
	}
	return useRevalidate
}

// staleIfError reports whether e may answer in place of a failed handler
// run. unreachable is set when the handler returned an error rather than
// a 5xx response: in the shared-cache mode that is an origin that cannot
// be reached, and a stale response may then answer (RFC 9111 §4.2.4)
// unless it forbids it.
func (m *Cache) staleIfError(e *entry.Entry, now int64, rd *reqDirectives, unreachable bool) bool {
	in := m.useInput(e, now, rd, true, false)
	if unreachable && m.cfg.shared && in.GraceIfError < 0 {
		in.GraceIfError = staleKeep
	}
	return rfc.Usable(in) == rfc.UseStaleIfError
}

func (m *Cache) useInput(e *entry.Entry, now int64, rd *reqDirectives, failed, expired bool) rfc.UseInput {
	grace := time.Duration(-1)
	if m.cfg.grace > 0 {
		grace = m.cfg.grace
	}
	in := rfc.UseInput{
		Age:                  time.Duration(e.Age(now)),
		Lifetime:             time.Duration(e.Lifetime()),
		StaleWhileRevalidate: time.Duration(e.StaleWhileRevalidate),
		StaleIfError:         time.Duration(e.StaleIfError),
		GraceWhileRevalidate: grace,
		GraceIfError:         grace,
		MustRevalidate:       e.Flags&entry.FlagMustRevalidate != 0,
		ProxyRevalidate:      e.Flags&entry.FlagProxyRevalidate != 0,
		NoCache:              e.Flags&entry.FlagNoCache != 0,
		Shared:               true,
		HasValidator:         len(e.ETag) > 0 || e.LastModified != 0,
		OriginFailed:         failed,
	}
	if expired {
		in.Age = max(in.Age, in.Lifetime) // stale from now on
	}
	if rd != nil && rd.honor {
		in.Request, in.HonorRequest = rd.RequestDirectives, true
	}
	return in
}
