package core

import (
	"context"
	"log/slog"
	"os"
	"strings"
)

// LevelTrace is the slog level of fibercache's most detailed logs: key
// derivation, storage calls, and the reason a response was not stored.
const LevelTrace = slog.Level(-8)

// EnvLogLevel names the environment variable that, set to "debug" or
// "trace", makes a middleware built without WithLogger log to stderr.
const EnvLogLevel = "FIBER_CACHES_LOG_LEVEL"

// logger wraps the configured *slog.Logger; a nil one is silent and costs a
// nil check.
type logger struct{ l *slog.Logger }

// loggerFromEnv returns the logger EnvLogLevel asks for, or nil.
func loggerFromEnv() *slog.Logger {
	var level slog.Level
	switch strings.ToLower(strings.TrimSpace(os.Getenv(EnvLogLevel))) {
	case "debug":
		level = slog.LevelDebug
	case "trace":
		level = LevelTrace
	default:
		return nil
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{
		Level: level,
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.LevelKey && a.Value.Any() == LevelTrace {
				a.Value = slog.StringValue("TRACE")
			}
			return a
		},
	}))
}

func (lg logger) enabled(level slog.Level) bool {
	return lg.l != nil && lg.l.Enabled(context.Background(), level)
}

func (lg logger) log(level slog.Level, msg string, attrs ...slog.Attr) {
	if lg.enabled(level) {
		lg.l.LogAttrs(context.Background(), level, msg, attrs...)
	}
}
