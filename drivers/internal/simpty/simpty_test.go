package simpty

import (
	"errors"
	"os"
	"syscall"
	"testing"
	"time"
)

// TestCloseIsImmediate checks the property the simulators rely on: closing
// the master while a Read is pending ends that Read, and the terminal side
// sees the device gone at once.
func TestCloseIsImmediate(t *testing.T) {
	for range 50 {
		m, tty, err := Open()
		if err != nil {
			t.Fatal(err)
		}
		peer, err := os.OpenFile(tty.Name(), os.O_RDWR|syscall.O_NOCTTY, 0)
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() {
			_, err := m.Read(make([]byte, 16))
			done <- err
		}()
		time.Sleep(time.Millisecond) // let the Read block (it also passes if it has not)
		m.Close()
		tty.Close()
		select {
		case err := <-done:
			if !errors.Is(err, os.ErrClosed) {
				t.Fatalf("pending Read after Close: %v, want os.ErrClosed", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Close did not wake the pending Read")
		}
		if _, err := peer.Write([]byte("x")); !errors.Is(err, syscall.EIO) {
			t.Fatalf("write to the terminal side after Close: %v, want EIO", err)
		}
		peer.Close()
	}
}
