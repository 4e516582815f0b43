package guard

import (
	"net"
	"sync"

	"golang.org/x/net/netutil"
)

// Listen wraps ln so that one client address holds at most perClient
// connections at once (a further one is accepted and closed at once) and
// all clients together at most total (netutil.LimitListener: Accept waits
// for a free slot). Zero leaves that limit off.
func Listen(ln net.Listener, perClient, total int) net.Listener {
	if total > 0 {
		ln = netutil.LimitListener(ln, total)
	}
	if perClient <= 0 {
		return ln
	}
	return &clientListener{Listener: ln, per: perClient, open: map[string]int{}}
}

type clientListener struct {
	net.Listener
	per  int
	mu   sync.Mutex
	open map[string]int
}

func (l *clientListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		host := hostOf(c.RemoteAddr())
		l.mu.Lock()
		if l.open[host] >= l.per {
			l.mu.Unlock()
			c.Close()
			continue
		}
		l.open[host]++
		l.mu.Unlock()
		return &clientConn{Conn: c, l: l, host: host}, nil
	}
}

func (l *clientListener) release(host string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open[host]--; l.open[host] <= 0 {
		delete(l.open, host)
	}
}

// Open returns how many connections host holds (for tests and metrics).
func Open(ln net.Listener, host string) int {
	cl, ok := ln.(*clientListener)
	if !ok {
		return -1
	}
	cl.mu.Lock()
	defer cl.mu.Unlock()
	return cl.open[host]
}

type clientConn struct {
	net.Conn
	l    *clientListener
	host string
	once sync.Once
}

func (c *clientConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.release(c.host) })
	return err
}

func hostOf(a net.Addr) string {
	if t, ok := a.(*net.TCPAddr); ok {
		return t.IP.String()
	}
	host, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	return host
}
