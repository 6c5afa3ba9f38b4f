package web

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"nhooyr.io/websocket"

	"webkube/web/templates"
)

// podView is which page of the pods an overview tab shows: the filter box's text and the
// first row. The tab says it over its websocket; the server renders that page only, so
// neither the page nor its websocket grows with the cluster.
type podView struct {
	Q   string `json:"q"`
	Off int    `json:"off"`
}

// pager is an overview tab's page of pods: the view, the rows it was last sent and
// whether a pod change may have moved rows in or out of it.
type pager struct {
	mu     sync.Mutex
	render sync.Mutex // one page render and send at a time, so pages arrive in order
	view   podView
	ids    map[string]bool // row ids on the tab's page
	pager  string          // the pager's HTML last sent
	dirty  bool
}

// podPage lists the pods, keeps those matching v.Q and cuts the page at v.Off (moved back
// to the last page when the pods it showed are gone).
func (d *Dashboard) podPage(v podView) templates.PodPage {
	pods, _ := d.l.pods.List(everything)
	sortByName(pods, func(p *corev1.Pod) string { return p.Namespace + "/" + p.Name })
	now := d.now()
	q := strings.ToLower(strings.TrimSpace(v.Q))
	pg := templates.PodPage{Total: len(pods), Q: strings.TrimSpace(v.Q)}
	var matched []*corev1.Pod
	for _, p := range pods {
		if q == "" || templates.PodRowOf(p, now).Matches(q) {
			matched = append(matched, p)
		}
	}
	pg.Matched = len(matched)
	off := max(0, v.Off)
	if off >= len(matched) {
		off = max(0, (len(matched)-1)/templates.PodPageSize*templates.PodPageSize)
	}
	pg.Off = off
	for _, p := range matched[off:min(len(matched), off+templates.PodPageSize)] {
		pg.Rows = append(pg.Rows, templates.PodRowOf(p, now))
	}
	return pg
}

// pageMsgs renders a tab's page of pods and its pager, and remembers what the tab has.
// With only the pager changed (pods counted, none moved on or off the page) the rows are
// not sent again.
func (d *Dashboard) pageMsgs(c *client, lang string, force bool) [][]byte {
	c.pods.mu.Lock()
	v := c.pods.view
	c.pods.dirty = false
	c.pods.mu.Unlock()
	pg := d.podPage(v)
	ids := make(map[string]bool, len(pg.Rows))
	for _, r := range pg.Rows {
		ids[templates.RowID("pod", r.Namespace, r.Name)] = true
	}
	head := htmlIn(lang, templates.PodPager(pg))
	c.pods.mu.Lock()
	defer c.pods.mu.Unlock()
	var out [][]byte
	if force || !sameKeys(ids, c.pods.ids) {
		out = append(out, encode(msg{T: "set", ID: "tbody-pods", HTML: htmlIn(lang, templates.PodRows(pg.Rows))}))
		c.pods.ids = ids
	}
	if force || head != c.pods.pager {
		out = append(out, encode(msg{T: "set", ID: "pod-pager", HTML: head}))
		c.pods.pager = head
	}
	return out
}

func sameKeys(a, b map[string]bool) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if !b[k] {
			return false
		}
	}
	return true
}

// podRowChanged sends a pod's row to the tabs showing it on their page; on other tabs
// whose filter it matches it may move rows on or off the page, so their page is redone
// (at most twice a second, by pagerLoop).
func (d *Dashboard) podRowChanged(typ string, p *corev1.Pod, ts int64) {
	id := templates.RowID("pod", p.Namespace, p.Name)
	now := d.now()
	row := templates.PodRowOf(p, now)
	d.hub.each(topicOverview, func(c *client) {
		c.pods.mu.Lock()
		onPage := c.pods.ids[id]
		q := strings.ToLower(strings.TrimSpace(c.pods.view.Q))
		if typ == "DELETED" || !onPage {
			c.pods.dirty = c.pods.dirty || onPage || row.Matches(q)
		}
		c.pods.mu.Unlock()
		if onPage && typ == "DELETED" {
			c.queue(encode(msg{T: "rm", ID: id, Ts: ts}))
		} else if onPage {
			c.queue(encode(msg{T: "up", ID: id, In: "tbody-pods", HTML: htmlIn(c.lang, templates.PodRowView(row)), Ts: ts}))
		}
	})
}

// pagerLoop redoes the pages that pod changes made stale, at most twice a second per tab,
// so a burst of thousands of pods costs each tab a few page renders, not a row each.
func (d *Dashboard) pagerLoop(ctx context.Context) {
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		d.hub.each(topicOverview, func(c *client) {
			c.pods.mu.Lock()
			dirty := c.pods.dirty
			c.pods.mu.Unlock()
			if dirty {
				d.sendPage(c)
			}
		})
	}
}

// readViews reads what a tab says over its websocket (the page of pods it wants) until
// the socket closes, then cancels the tab's context.
func (d *Dashboard) readViews(ctx context.Context, cancel context.CancelFunc, conn *websocket.Conn, c *client) {
	defer cancel()
	conn.SetReadLimit(4096)
	for {
		_, b, err := conn.Read(ctx)
		if err != nil {
			return
		}
		var m struct {
			T string `json:"t"`
			podView
		}
		if json.Unmarshal(b, &m) != nil || m.T != "pods" {
			continue
		}
		c.pods.mu.Lock()
		c.pods.view = m.podView
		c.pods.mu.Unlock()
		d.sendPage(c)
	}
}

// sendPage queues the tab's page of pods if it changed.
func (d *Dashboard) sendPage(c *client) {
	c.pods.render.Lock()
	defer c.pods.render.Unlock()
	for _, m := range d.pageMsgs(c, c.lang, false) {
		c.queue(m)
	}
}
