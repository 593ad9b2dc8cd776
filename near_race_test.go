package cache_test

import (
	"testing"
)

// nearRaceScenarios are worlds where R is a near hit: A stored the entry,
// then read it back through its near tier (which fills it), so that R finds
// every record of it in A's near tier.
func nearRaceScenarios() []invRaceScenario {
	warm := func(lang string) func(t *testing.T, e *invRaceEnv) {
		return func(t *testing.T, e *invRaceEnv) {
			for range 3 { // a miss that stores, a near miss that fills, a near hit
				invWait(t, invGo(e.a.app, lang), "a request before R")
			}
		}
	}
	return []invRaceScenario{
		{name: "near hit", prep: warm(""), lang: ""},
		{name: "vary near hit", vary: true, prep: warm("en"), lang: "en", also: []string{"fr"}},
	}
}

// TestNear_RaceAfterHit: R is a near hit; I (a change of the data, then
// its invalidation through B, acknowledged) runs right after it, while the
// push that tells A is still on its way (delayed); G, sent after the
// acknowledgment, must answer the changed data. Strict: A's barrier round
// is answered after the push. Relaxed: the invalidation is this process's
// own, and drops A's records at once.
func TestNear_RaceAfterHit(t *testing.T) {
	for _, be := range invNearRaceBackends(t) {
		for _, how := range invRaceHows {
			be := be.by(how)
			for _, sc := range nearRaceScenarios() {
				t.Run(be.name+"/"+sc.name, func(t *testing.T) {
					invRaceAt(t, be, sc, invRacePoint{kind: "after-cache"})
				})
			}
		}
	}
}
