package testkit

import (
	"log/slog"
	"testing"
)

func TestLogs(t *testing.T) {
	l := NewLogs(slog.LevelInfo)
	log := l.Logger().With("cache", "pages")
	log.Debug("dropped")
	log.Info("one", "n", 1)
	log.Warn("two")
	log.Error("two")
	if got := l.Count(slog.LevelInfo, ""); got != 3 {
		t.Fatalf("Count(Info, any) = %d, want 3 (Debug is below the level)", got)
	}
	if got := l.Count(slog.LevelWarn, "two"); got != 2 {
		t.Fatalf("Count(Warn, two) = %d, want 2", got)
	}
	one := l.Find("one")
	if len(one) != 1 || one[0].Attrs["n"].Int64() != 1 || one[0].Attrs["cache"].String() != "pages" {
		t.Fatalf("Find(one) = %+v, want one record with n=1 and the logger's cache=pages", one)
	}
}
