// Package editor serves what the dashboard's YAML editor needs from the API server: its
// OpenAPI v3 documents, from the dashboard's own origin (the API listens elsewhere, with
// a bearer token the page does not hold).
package editor

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/labstack/echo/v4"
	"k8s.io/client-go/rest"
)

// Prefix is where the page finds /openapi/v3: Prefix + "/api/v1" is /openapi/v3/api/v1.
const Prefix = "/ui/openapi/v3"

// OpenAPI proxies GET /openapi/v3[/group-version] of the API server. Group documents are
// asked for with their hash and cached, as kubectl does: the schemas change only when
// the server does.
type OpenAPI struct {
	client rest.Interface
	mu     sync.Mutex
	cache  map[string][]byte
}

// NewOpenAPI reads through client, e.g. a clientset's Discovery().RESTClient().
func NewOpenAPI(client rest.Interface) *OpenAPI {
	return &OpenAPI{client: client, cache: map[string][]byte{}}
}

// Handle is the echo handler for Prefix and Prefix/*.
func (o *OpenAPI) Handle(c echo.Context) error {
	rel := strings.Trim(strings.TrimPrefix(c.Request().URL.Path, Prefix), "/")
	hash := c.QueryParam("hash")
	body, err := o.get(c.Request().Context(), rel, hash)
	if err != nil {
		return echo.NewHTTPError(http.StatusBadGateway, err.Error())
	}
	if hash != "" {
		c.Response().Header().Set("Cache-Control", "private, max-age=86400, immutable")
	}
	return c.Blob(http.StatusOK, "application/json", body)
}

func (o *OpenAPI) get(ctx context.Context, rel, hash string) ([]byte, error) {
	key := rel + "?" + hash
	o.mu.Lock()
	b, ok := o.cache[key]
	o.mu.Unlock()
	if ok {
		return b, nil
	}
	if o.client == nil {
		return nil, fmt.Errorf("openapi: no API client")
	}
	req := o.client.Get().AbsPath("/openapi/v3", rel)
	if hash != "" {
		req = req.Param("hash", hash)
	}
	b, err := req.DoRaw(ctx)
	if err != nil {
		return nil, fmt.Errorf("openapi %s: %w", rel, err)
	}
	if hash != "" {
		o.mu.Lock()
		o.cache[key] = b
		o.mu.Unlock()
	}
	return b, nil
}
