package web

import (
	"context"
	"sync"
	"time"

	"nhooyr.io/websocket"
)

// hub fans pre-encoded messages out to the websocket clients subscribed to a topic.
// A client whose buffer fills is dropped (its page reconnects and gets a fresh snapshot)
// so one slow tab never holds up the others or the informers.
type hub struct {
	mu      sync.RWMutex
	clients map[*client]struct{}
}

type client struct {
	lang   string // the page's language; fragments are rendered in it
	send   chan []byte
	topics map[string]bool
	once   sync.Once
	gone   chan struct{}
	pods   pager // an overview tab's page of pods
}

const clientBuffer = 1024

func newHub() *hub { return &hub{clients: map[*client]struct{}{}} }

func newClient(topics ...string) *client {
	c := &client{send: make(chan []byte, clientBuffer), topics: map[string]bool{}, gone: make(chan struct{})}
	for _, t := range topics {
		c.topics[t] = true
	}
	return c
}

func (c *client) drop() { c.once.Do(func() { close(c.gone) }) }

func (h *hub) add(c *client) {
	h.mu.Lock()
	h.clients[c] = struct{}{}
	h.mu.Unlock()
}

func (h *hub) remove(c *client) {
	h.mu.Lock()
	delete(h.clients, c)
	h.mu.Unlock()
	c.drop()
}

// publish queues msg for every client subscribed to topic, without blocking.
func (h *hub) publish(topic string, msg []byte) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	for c := range h.clients {
		if !c.topics[topic] {
			continue
		}
		select {
		case c.send <- msg:
		default:
			c.drop()
		}
	}
}

// publishLang is publish for a fragment that depends on the page's language: build runs
// once per language that a subscribed client speaks.
func (h *hub) publishLang(topic string, build func(lang string) []byte) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	built := map[string][]byte{}
	for c := range h.clients {
		if !c.topics[topic] {
			continue
		}
		m, ok := built[c.lang]
		if !ok {
			m = build(c.lang)
			built[c.lang] = m
		}
		if m == nil { // build had nothing new for this language
			continue
		}
		select {
		case c.send <- m:
		default:
			c.drop()
		}
	}
}

// each calls fn for every client subscribed to topic (fn must not block: use queue).
func (h *hub) each(topic string, fn func(c *client)) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	for c := range h.clients {
		if c.topics[topic] {
			fn(c)
		}
	}
}

// queue is publish for one client.
func (c *client) queue(m []byte) {
	select {
	case c.send <- m:
	default:
		c.drop()
	}
}

// topics lists the topics at least one client is subscribed to that start with prefix.
func (h *hub) topicsWith(prefix string) []string {
	h.mu.RLock()
	defer h.mu.RUnlock()
	seen := map[string]bool{}
	var out []string
	for c := range h.clients {
		for t := range c.topics {
			if len(t) >= len(prefix) && t[:len(prefix)] == prefix && !seen[t] {
				seen[t] = true
				out = append(out, t)
			}
		}
	}
	return out
}

func (h *hub) count() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return len(h.clients)
}

// pump writes a client's queue to its websocket until the client is dropped, the socket
// fails, or ctx ends. A ping every 20 s keeps proxies from closing an idle page.
func (c *client) pump(ctx context.Context, conn *websocket.Conn) error {
	ping := time.NewTicker(20 * time.Second)
	defer ping.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-c.gone:
			conn.Close(websocket.StatusPolicyViolation, "too slow; reconnect")
			return nil
		case m := <-c.send:
			wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			err := conn.Write(wctx, websocket.MessageText, m)
			cancel()
			if err != nil {
				return err
			}
		case <-ping.C:
			wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			err := conn.Ping(wctx)
			cancel()
			if err != nil {
				return err
			}
		}
	}
}
