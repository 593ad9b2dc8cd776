package core

// A Reason says why a request was not looked up in the cache (a bypass), or
// why its response was not stored. Logs, metrics and the Cache-Status
// header all name it with String.
type Reason uint8

// The reasons. Their String values are stable: logs, metric labels and
// Cache-Status details use them.
const (
	ReasonNone Reason = iota

	// Why a request bypassed the cache (neither looked up nor stored).
	ReasonMethod              // not GET or HEAD
	ReasonNoRule              // no rule can match the path, or the matching rule says Skip
	ReasonSkip                // the WithNext predicate said so
	ReasonPendingInvalidation // an invalidation of the path has not reached the storage yet
	ReasonStoragePaused       // the storage failed recently and is left alone for a moment
	ReasonRequestNoStore      // the request said no-store (shared-cache mode)
	ReasonAbsoluteForm        // an absolute-form request target naming another host than Host

	// Why a response was not stored.
	ReasonStatus           // the status is not cacheable
	ReasonRuleSkip         // the rule matching path and status says Skip
	ReasonStreamedBody     // the body is a stream
	ReasonBodyTooLarge     // the body is over WithMaxBodySize
	ReasonVaryStar         // Vary: *
	ReasonTooManyHeaders   // more headers, Vary names or header bytes than an entry may hold
	ReasonSetCookie        // Set-Cookie in answer to a request without cookies
	ReasonNoStore          // Cache-Control: no-store
	ReasonPrivate          // Cache-Control: private
	ReasonNoCache          // Cache-Control: no-cache without a validator to revalidate with
	ReasonAuthorization    // an answer to Authorization the response does not allow to share
	ReasonExpired          // a freshness lifetime of zero and nothing to revalidate with
	ReasonInvalidated      // the path was invalidated while the handler ran
	ReasonHandlerError     // the handler returned an error
	ReasonStorageError     // the storage failed
	ReasonNoFreshness      // shared-cache mode: no explicit freshness and nothing heuristic
	ReasonMustUnderstand   // must-understand with a status the cache does not understand
	ReasonRequestDirective // the request's no-store (shared-cache mode)
	ReasonTooSlow          // the handler ran longer than an invalidation is remembered

	// Bypasses, added after the others (the values above are kept).
	ReasonCachingOff // WithTTL(0): the cache stores nothing
	ReasonClosed     // the cache was closed (Close, or the app's Shutdown)
	// Why a response was not stored (continued).
	ReasonInvalidTags // a tag is not valid, or there are more than MaxTags
	numReasons
)

var reasonNames = [numReasons]string{
	ReasonNone:                "",
	ReasonMethod:              "method",
	ReasonNoRule:              "no_rule",
	ReasonSkip:                "skip",
	ReasonPendingInvalidation: "pending_invalidation",
	ReasonStoragePaused:       "storage_paused",
	ReasonRequestNoStore:      "request_no_store",
	ReasonAbsoluteForm:        "absolute_form",
	ReasonStatus:              "status_code",
	ReasonRuleSkip:            "rule_skip",
	ReasonStreamedBody:        "streamed_body",
	ReasonBodyTooLarge:        "body_too_large",
	ReasonVaryStar:            "vary_star",
	ReasonTooManyHeaders:      "too_many_headers",
	ReasonSetCookie:           "cookies_for_cookieless_request",
	ReasonNoStore:             "no_store",
	ReasonPrivate:             "private",
	ReasonNoCache:             "no_cache",
	ReasonAuthorization:       "authorization",
	ReasonExpired:             "expired",
	ReasonInvalidated:         "invalidated_while_running",
	ReasonHandlerError:        "handler_error",
	ReasonStorageError:        "storage_error",
	ReasonNoFreshness:         "no_freshness",
	ReasonMustUnderstand:      "must_understand",
	ReasonRequestDirective:    "request_directive",
	ReasonTooSlow:             "handler_too_slow",
	ReasonCachingOff:          "caching_off",
	ReasonClosed:              "closed",
	ReasonInvalidTags:         "invalid_tags",
}

// String returns the reason's stable name, such as "no_store".
func (r Reason) String() string {
	if r < numReasons {
		return reasonNames[r]
	}
	return "unknown"
}

// Reasons returns every reason but ReasonNone, for metrics that want to
// declare their labels up front.
func Reasons() []Reason {
	rs := make([]Reason, 0, numReasons-1)
	for r := ReasonNone + 1; r < numReasons; r++ {
		rs = append(rs, r)
	}
	return rs
}
