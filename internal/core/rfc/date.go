package rfc

import (
	"math"
	"time"
)

// imfFixdate is the preferred HTTP-date format (RFC 9110 §5.6.7), the
// layout of net/http's TimeFormat.
const imfFixdate = "Mon, 02 Jan 2006 15:04:05 GMT"

// ParseHTTPDate parses an HTTP-date (RFC 9110 §5.6.7) in any of the three
// forms recipients must accept:
//
//	Sun, 06 Nov 1994 08:49:37 GMT   IMF-fixdate
//	Sunday, 06-Nov-94 08:49:37 GMT  obsolete RFC 850 format
//	Sun Nov  6 08:49:37 1994        ANSI C's asctime() format
//
// and returns it in Unix nanoseconds. Surrounding whitespace is ignored.
// Day and month names and "GMT" are matched case-insensitively; the day
// name is not checked against the date. Anything else fails: another
// zone, missing or extra spaces, one-digit fields (but asctime's padded
// day), a day past the end of its month. A leap second (:60) is accepted.
//
// A two-digit RFC 850 year that would be more than 50 years in the future
// is taken as the most recent past year with those digits, as §5.6.7
// requires; that reads the clock, the only case that does.
//
// Dates outside int64 nanoseconds (before 1677 or after 2262) saturate to
// math.MinInt64 or math.MaxInt64. The Unix epoch itself is returned as -1
// (one nanosecond earlier) so that a parsed date is never 0, which this
// package uses for an absent time: "Expires: Thu, 01 Jan 1970 00:00:00 GMT"
// must stay an expired date, not a missing one. It does not allocate.
func ParseHTTPDate(b []byte) (int64, bool) {
	return parseHTTPDate(b, currentYear)
}

// AppendHTTPDate appends t, in Unix nanoseconds, as an IMF-fixdate
// (RFC 9110 §5.6.7), truncated to the second, to dst.
func AppendHTTPDate(dst []byte, t int64) []byte {
	return time.Unix(0, t).UTC().AppendFormat(dst, imfFixdate)
}

func currentYear() int { return time.Now().UTC().Year() }

func parseHTTPDate(b []byte, year func() int) (int64, bool) {
	b = TrimOWS(b)
	if len(b) < 24 {
		return 0, false
	}
	var y, mon, day int
	var clock []byte
	switch b[3] {
	case ',': // IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT"
		if len(b) != 29 || !shortDay(b[:3]) || b[4] != ' ' || b[7] != ' ' || b[11] != ' ' ||
			b[16] != ' ' || b[25] != ' ' || !EqualFold(b[26:], "gmt") {
			return 0, false
		}
		day, mon, y, clock = digits(b[5:7]), month(b[8:11]), digits(b[12:16]), b[17:25]
	case ' ': // asctime: "Sun Nov  6 08:49:37 1994"
		if len(b) != 24 || !shortDay(b[:3]) || b[7] != ' ' || b[10] != ' ' || b[19] != ' ' {
			return 0, false
		}
		if b[8] == ' ' {
			day = digits(b[9:10])
		} else {
			day = digits(b[8:10])
		}
		mon, y, clock = month(b[4:7]), digits(b[20:24]), b[11:19]
	default: // RFC 850: "Sunday, 06-Nov-94 08:49:37 GMT"
		const tail = len("06-Nov-94 08:49:37 GMT")
		n := len(b) - tail - 2
		if n < 6 || !longDay(b[:n]) || b[n] != ',' || b[n+1] != ' ' {
			return 0, false
		}
		b = b[n+2:]
		if b[2] != '-' || b[6] != '-' || b[9] != ' ' || b[18] != ' ' || !EqualFold(b[19:], "gmt") {
			return 0, false
		}
		day, mon, y, clock = digits(b[:2]), month(b[3:6]), digits(b[7:9]), b[10:18]
		if y >= 0 {
			now := year()
			y += now - now%100
			if y > now+50 {
				y -= 100
			}
		}
	}
	if clock[2] != ':' || clock[5] != ':' {
		return 0, false
	}
	h, m, s := digits(clock[:2]), digits(clock[3:5]), digits(clock[6:8])
	if y < 0 || mon < 1 || day < 1 || day > daysIn(mon, y) ||
		h < 0 || h > 23 || m < 0 || m > 59 || s < 0 || s > 60 {
		return 0, false
	}
	sec := time.Date(y, time.Month(mon), day, h, m, s, 0, time.UTC).Unix()
	switch {
	case sec > math.MaxInt64/int64(time.Second):
		return math.MaxInt64, true
	case sec < math.MinInt64/int64(time.Second):
		return math.MinInt64, true
	case sec == 0:
		return -1, true
	}
	return sec * int64(time.Second), true
}

// digits returns the value of b, all ASCII digits, or -1.
func digits(b []byte) int {
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return -1
		}
		n = n*10 + int(c-'0')
	}
	return n
}

// month returns 1 to 12 for a three-letter month name, any case, or -1.
func month(b []byte) int {
	const names = "janfebmaraprmayjunjulaugsepoctnovdec"
	for i := 0; i < len(names); i += 3 {
		if EqualFold(b, names[i:i+3]) {
			return i/3 + 1
		}
	}
	return -1
}

// shortDay reports whether b is a day-name (RFC 9110 §5.6.7), any case.
func shortDay(b []byte) bool {
	const names = "montuewedthufrisatsun"
	for i := 0; i < len(names); i += 3 {
		if EqualFold(b, names[i:i+3]) {
			return true
		}
	}
	return false
}

// longDay reports whether b is a day-name-l (RFC 9110 §5.6.7), any case.
func longDay(b []byte) bool {
	for _, d := range [...]string{"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"} {
		if EqualFold(b, d) {
			return true
		}
	}
	return false
}

// daysIn returns the number of days of month mon (1 to 12) of year y in
// the proleptic Gregorian calendar.
func daysIn(mon, y int) int {
	switch mon {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}
