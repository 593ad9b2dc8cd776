package cache

import (
	"os"
	"testing"

	"github.com/fiber-caches/cache/internal/core/redistest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	redistest.Stop()
	os.Exit(code)
}
