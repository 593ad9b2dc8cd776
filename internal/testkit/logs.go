package testkit

import (
	"context"
	"log/slog"
	"sync"
)

// Logs records what a *slog.Logger logs, for tests that count log lines by
// level and message. Its methods are safe for concurrent use.
type Logs struct {
	level slog.Level

	mu   sync.Mutex // guards recs
	recs []Record
}

// Record is one log line: its level, message and attributes (those given
// to the logger's With included; groups are not kept apart).
type Record struct {
	Level slog.Level
	Msg   string
	Attrs map[string]slog.Value
}

// NewLogs returns a Logs that records the lines at level or above.
func NewLogs(level slog.Level) *Logs { return &Logs{level: level} }

// Logger returns a logger whose lines l records.
func (l *Logs) Logger() *slog.Logger { return slog.New(logsHandler{l: l}) }

// Records returns the lines recorded so far, in order.
func (l *Logs) Records() []Record {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Record(nil), l.recs...)
}

// Count returns how many lines recorded so far are at level or above and
// say msg ("" for any message).
func (l *Logs) Count(level slog.Level, msg string) int {
	n := 0
	for _, r := range l.Records() {
		if r.Level >= level && (msg == "" || r.Msg == msg) {
			n++
		}
	}
	return n
}

// Find returns the lines recorded so far that say msg, in order.
func (l *Logs) Find(msg string) []Record {
	var out []Record
	for _, r := range l.Records() {
		if r.Msg == msg {
			out = append(out, r)
		}
	}
	return out
}

// logsHandler is the slog.Handler of a Logs, with the attributes its
// logger was given.
type logsHandler struct {
	l     *Logs
	attrs []slog.Attr
}

func (h logsHandler) Enabled(_ context.Context, level slog.Level) bool { return level >= h.l.level }

func (h logsHandler) Handle(_ context.Context, r slog.Record) error {
	rec := Record{Level: r.Level, Msg: r.Message, Attrs: map[string]slog.Value{}}
	for _, a := range h.attrs {
		rec.Attrs[a.Key] = a.Value.Resolve()
	}
	r.Attrs(func(a slog.Attr) bool {
		rec.Attrs[a.Key] = a.Value.Resolve()
		return true
	})
	h.l.mu.Lock()
	h.l.recs = append(h.l.recs, rec)
	h.l.mu.Unlock()
	return nil
}

func (h logsHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return logsHandler{l: h.l, attrs: append(append([]slog.Attr(nil), h.attrs...), attrs...)}
}

func (h logsHandler) WithGroup(string) slog.Handler { return h }
