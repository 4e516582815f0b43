package guard_test

import (
	"net"
	"testing"
	"time"

	"eidkiosk/authority/guard"
)

// One address holds at most perClient connections; more are closed at once.
func TestListenPerClient(t *testing.T) {
	raw, _ := net.Listen("tcp", "127.0.0.1:0")
	ln := guard.Listen(raw, 2, 0)
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_ = c
		}
	}()
	kept := 0
	for range 5 {
		c, err := net.Dial("tcp", raw.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		_, err = c.Read(make([]byte, 1))
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			kept++
		}
	}
	if kept != 2 {
		t.Fatalf("kept %d", kept)
	}
}
