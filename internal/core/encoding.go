package core

import (
	"bytes"

	"github.com/valyala/fasthttp"
)

// The content codings a response varying on Accept-Encoding is keyed by.
const (
	encodingBr       = "br"
	encodingGzip     = "gzip"
	encodingDeflate  = "deflate"
	encodingIdentity = "identity"
)

// servedEncoding returns the content coding that Fiber's compress
// middleware would answer the request with header h in: br, gzip, deflate
// or identity. A response that varies on Accept-Encoding is keyed by it
// instead of the raw header, so the many ways browsers spell the same
// preference share one entry per coding.
//
// It follows fasthttp's CompressHandlerBrotliLevel (which compress.New
// runs) to the byte: br, then gzip, then deflate, each accepted when
// RequestHeader.HasAcceptEncodingBytes says so, reading the first
// Accept-Encoding line as fasthttp peeks it. So a coding with parameters
// ("br;q=0", and also "br;q=1") or written after a comma without a space
// is not taken; nor is a header whose name is not "Accept-Encoding" as
// written, under DisableHeaderNormalizing. Identity otherwise, which is
// also what compress sends for a body it does not compress.
func servedEncoding(h *fasthttp.RequestHeader) string {
	ae := h.Peek(fasthttp.HeaderAcceptEncoding)
	switch {
	case len(ae) == 0:
		return encodingIdentity
	case acceptsEncoding(ae, encodingBr):
		return encodingBr
	case acceptsEncoding(ae, encodingGzip):
		return encodingGzip
	case acceptsEncoding(ae, encodingDeflate):
		return encodingDeflate
	}
	return encodingIdentity
}

// acceptsEncoding is fasthttp's RequestHeader.HasAcceptEncodingBytes on
// the header value ae: the first occurrence of coding must be followed by
// a comma or the end, and preceded by a space or the start.
func acceptsEncoding(ae []byte, coding string) bool {
	n := bytes.Index(ae, []byte(coding))
	if n < 0 {
		return false
	}
	if rest := ae[n+len(coding):]; len(rest) > 0 && rest[0] != ',' {
		return false
	}
	return n == 0 || ae[n-1] == ' '
}
