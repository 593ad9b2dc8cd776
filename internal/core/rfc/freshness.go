package rfc

import (
	"math"
	"time"
)

// ResponseTimes holds the times of a response that freshness and age
// depend on (RFC 9111 §4.2). Times are Unix nanoseconds, 0 when absent.
type ResponseTimes struct {
	Date         int64 // the Date field (RFC 9110 §6.6.1)
	Expires      int64 // the Expires field (RFC 9111 §5.3)
	LastModified int64 // the Last-Modified field (RFC 9110 §8.8.2)
	// ExpiresInvalid is set when Expires is present but is not a valid
	// HTTP-date: the response is then already expired (RFC 9111 §5.3).
	ExpiresInvalid bool
	// Age is the Age field's value (RFC 9111 §5.1), -1 when absent or
	// unparseable.
	Age time.Duration
	// RequestTime is when the cache sent the request that brought the
	// response, ResponseTime when it received the response
	// (request_time and response_time of RFC 9111 §4.2.3).
	RequestTime, ResponseTime int64
}

// FreshnessLifetime returns the response's explicit freshness lifetime
// (RFC 9111 §4.2.1), taking the first of:
//
//   - s-maxage, for a shared cache only (§5.2.2.10);
//   - max-age (§5.2.2.1);
//   - Expires minus Date, or minus ResponseTime when Date is absent (§5.3);
//     an invalid Expires gives 0, and so does an Expires before Date;
//
// with explicit true. With none of them it returns (0, false), and the
// caller may use HeuristicLifetime. d may be nil, meaning no directives.
func FreshnessLifetime(d *ResponseDirectives, t *ResponseTimes, shared bool) (lifetime time.Duration, explicit bool) {
	switch {
	case d != nil && shared && d.SMaxAge >= 0:
		return d.SMaxAge, true
	case d != nil && d.MaxAge >= 0:
		return d.MaxAge, true
	case t.ExpiresInvalid:
		return 0, true
	case t.Expires != 0:
		base := t.Date
		if base == 0 {
			base = t.ResponseTime
		}
		return max(0, since(t.Expires, base)), true
	}
	return 0, false
}

// HeuristicLifetime returns a heuristic freshness lifetime (RFC 9111
// §4.2.2): fraction (typically 0.1) of the time between Last-Modified and
// Date (ResponseTime when Date is absent), capped at limit; a negative
// limit means no cap. It is 0 without Last-Modified, when Last-Modified is not
// before Date, or when fraction is not positive.
//
// §4.2.2 allows heuristics only for responses without explicit freshness
// whose status is heuristically cacheable (CacheableByDefault) or that are
// marked public; the caller checks that.
func HeuristicLifetime(t *ResponseTimes, fraction float64, limit time.Duration) time.Duration {
	base := t.Date
	if base == 0 {
		base = t.ResponseTime
	}
	if t.LastModified == 0 || base == 0 || t.LastModified >= base || !(fraction > 0) {
		return 0
	}
	f := float64(since(base, t.LastModified)) * fraction
	d := time.Duration(math.MaxInt64)
	if f < float64(math.MaxInt64) {
		d = time.Duration(f)
	}
	if limit >= 0 && d > limit {
		d = limit
	}
	return d
}

// InitialAge returns corrected_initial_age (RFC 9111 §4.2.3):
//
//	apparent_age        = max(0, response_time - date_value)
//	response_delay      = response_time - request_time
//	corrected_age_value = age_value + response_delay
//	corrected_initial_age = max(apparent_age, corrected_age_value)
//
// An absent Date gives an apparent_age of 0 (RFC 9110 §6.6.1 has a
// recipient take the receipt time as the Date), an absent Age an age_value
// of 0, an absent RequestTime a response_delay of 0; a negative delay (a
// clock stepping back) counts as 0. The arithmetic saturates.
func InitialAge(t *ResponseTimes) time.Duration {
	var apparent, delay time.Duration
	if t.Date != 0 && t.ResponseTime != 0 {
		apparent = max(0, since(t.ResponseTime, t.Date))
	}
	if t.RequestTime != 0 && t.ResponseTime != 0 {
		delay = max(0, since(t.ResponseTime, t.RequestTime))
	}
	return max(apparent, addSat(max(0, t.Age), delay))
}

// CurrentAge returns current_age = corrected_initial_age + resident_time,
// where resident_time = now - response_time (RFC 9111 §4.2.3), all in
// Unix nanoseconds. A now before responseTime counts as no resident time.
//
// A cache sending the age as an Age field caps it at MaxDelta (RFC 9111
// §5.1: 2147483648 when it overflows).
func CurrentAge(initialAge time.Duration, responseTime, now int64) time.Duration {
	return addSat(initialAge, max(0, since(now, responseTime)))
}

// since returns a-b, saturated to the range of time.Duration.
func since(a, b int64) time.Duration {
	d := a - b
	if (d < a) != (b > 0) { // overflow
		if b > 0 {
			return math.MinInt64
		}
		return math.MaxInt64
	}
	return time.Duration(d)
}

// addSat returns a+b, saturated to the range of time.Duration.
func addSat(a, b time.Duration) time.Duration {
	s := a + b
	if (s > a) != (b > 0) { // overflow
		if b > 0 {
			return math.MaxInt64
		}
		return math.MinInt64
	}
	return s
}
