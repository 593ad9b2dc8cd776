package core

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/valyala/fasthttp"
)

// maxPurgeItems bounds the tags plus URLs one purge request may name.
const maxPurgeItems = 1000

// PurgeRequest is what a purge request (PurgeHandler) names, as a JSON
// body or as query parameters (tag=, url=, all=1, soft=1, repeatable).
type PurgeRequest struct {
	Tags []string `json:"tags,omitempty"` // InvalidateTags (ExpireTags with Soft)
	URLs []string `json:"urls,omitempty"` // InvalidateURL: paths (on the purge request's host) or full URLs
	All  bool     `json:"all,omitempty"`  // InvalidateAll
	Soft bool     `json:"soft,omitempty"` // tags are made stale (ExpireTags), not invalidated; tags only
}

// PurgeResult is the JSON answer of a purge request that was carried out.
type PurgeResult struct {
	Tags int  `json:"tags"`
	URLs int  `json:"urls"`
	All  bool `json:"all"`
	Soft bool `json:"soft"`
}

// PurgeHandler returns a handler that invalidates what its request names,
// for CMS webhooks and deploy scripts: tags, URLs, or everything in the
// cache's namespace, on every instance sharing the storage, as
// InvalidateTags, ExpireTags, InvalidateURL and InvalidateAll do. It does
// no authentication of its own: mount it behind yours.
//
//	app.Post("/_cache/purge", keyauth.New(keyauth.Config{Validator: checkKey}), m.PurgeHandler())
//
// The request names them in a JSON body (Content-Type: application/json)
//
//	{"tags": ["product:42"], "urls": ["/products", "https://shop.example/p/42"], "all": false, "soft": false}
//
// or in query parameters: ?tag=product:42&url=/products&soft=1. A URL that
// is a path is on the purge request's host. It answers 200 with a
// PurgeResult, or 400 saying what is wrong (an invalid tag or URL, soft
// with URLs, nothing named, more than 1,000 items), and then invalidates
// nothing. An invalidation that cannot reach the storage now is kept and
// retried (the instance serves none of it meanwhile): still a 200.
func (m *Cache) Purge(c Ctx) error {
	req, err := purgeRequest(c)
	if err == nil {
		err = m.checkPurge(c, req)
	}
	if err != nil {
		return writeJSON(c, fasthttp.StatusBadRequest, map[string]string{"error": err.Error()})
	}
	h := &CacheHelper{m: m, app: m.fw.App(c), base: requestBase(m.fw, c)}
	for _, u := range req.URLs {
		if err := h.InvalidateURL(u); err != nil {
			return err // checked above: cannot happen
		}
	}
	if req.Soft {
		err = m.ExpireTags(req.Tags...)
	} else {
		err = m.InvalidateTags(req.Tags...)
	}
	if err == nil && req.All {
		err = m.InvalidateAll()
	}
	if err != nil {
		return err
	}
	return writeJSON(c, fasthttp.StatusOK, PurgeResult{Tags: len(req.Tags), URLs: len(req.URLs), All: req.All, Soft: req.Soft})
}

// writeJSON answers c with status and v in JSON, never to be stored.
func writeJSON(c Ctx, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	resp := c.Response()
	resp.SetStatusCode(status)
	resp.Header.SetContentType("application/json")
	resp.Header.Set(fasthttp.HeaderCacheControl, "no-store")
	resp.SetBody(b)
	return nil
}

// purgeRequest reads a purge request from c's JSON body or query.
func purgeRequest(c Ctx) (PurgeRequest, error) {
	var req PurgeRequest
	if body := c.Request().Body(); len(body) > 0 {
		if err := json.Unmarshal(body, &req); err != nil {
			return req, fmt.Errorf("the body is not a JSON purge request (tags, urls, all, soft): %v", err)
		}
	}
	args := c.Request().URI().QueryArgs()
	for _, v := range args.PeekMulti("tag") {
		req.Tags = append(req.Tags, string(v))
	}
	for _, v := range args.PeekMulti("url") {
		req.URLs = append(req.URLs, string(v))
	}
	req.All = req.All || args.GetBool("all")
	req.Soft = req.Soft || args.GetBool("soft")
	return req, nil
}

// checkPurge returns what makes req impossible to carry out whole, if
// anything: so that a purge happens entirely or not at all.
func (m *Cache) checkPurge(c Ctx, req PurgeRequest) error {
	switch n := len(req.Tags) + len(req.URLs); {
	case n == 0 && !req.All:
		return errors.New("nothing to purge: name tags, urls, or all")
	case n > maxPurgeItems:
		return fmt.Errorf("%d tags and URLs: at most %d a request", n, maxPurgeItems)
	case req.Soft && (len(req.URLs) > 0 || req.All):
		return errors.New("soft purges tags only (ExpireTags)")
	}
	if err := checkTags("purge", req.Tags); err != nil {
		return err
	}
	base := requestBase(m.fw, c)
	for _, u := range req.URLs {
		if u == "" {
			return errors.New("an empty URL: name a path such as /users/42 or a full URL")
		}
		if _, _, _, err := base.resolve(u); err != nil {
			return fmt.Errorf("url %q: %v", u, err)
		}
	}
	return nil
}
