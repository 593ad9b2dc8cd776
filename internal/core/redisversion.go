package core

import (
	"bufio"
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// redisVersionTimeout bounds the one INFO call NewCache makes to choose the
// Redis fast path.
const redisVersionTimeout = time.Second

// redisMajor returns the major version of the Redis behind c, as INFO
// server says it; ok is false when it cannot be read in time.
func redisMajor(c redis.UniversalClient) (major int, ok bool) {
	ctx, cancel := context.WithTimeout(context.Background(), redisVersionTimeout)
	defer cancel()
	info, err := call(ctx, func() (string, error) { return c.Info(ctx, "server").Result() })
	if err != nil {
		return 0, false
	}
	return parseRedisMajor(info)
}

// parseRedisMajor reads the major version from the redis_version line of
// an INFO reply.
func parseRedisMajor(info string) (int, bool) {
	sc := bufio.NewScanner(strings.NewReader(info))
	for sc.Scan() {
		v, found := strings.CutPrefix(strings.TrimSpace(sc.Text()), "redis_version:")
		if !found {
			continue
		}
		major, _, _ := strings.Cut(v, ".")
		n, err := strconv.Atoi(major)
		return n, err == nil
	}
	return 0, false
}
