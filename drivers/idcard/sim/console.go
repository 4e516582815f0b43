package sim

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"eidkiosk/drivers/idcard"
	"eidkiosk/internal/pii"
)

// ConsoleHelp lists the console commands.
const ConsoleHelp = `commands:
  list                      the deck (masked)
  place N                   put deck card N on the antenna
  remove                    take the card off
  unplug | replug           the USB reader disappears / comes back
  fault KIND [k=v ...]      inject a fault; KIND: garbage noise bad-checksum bad-length stall
                            silent split no-card status unplug; keys: cmd=find|select|read|readfp|
                            status|samid|reset (default any), times=N, bytes=N, gap=DUR, stall=DUR,
                            status=HEX (SW3 for KIND status)
  clear                     drop queued faults
  baud N                    change the SAM's line rate
  throttle on|off           pace answers to the line rate
  stats                     counters
  help                      this text
  quit                      stop the simulator`

var cmdNames = map[string]idcard.Command{
	"find": idcard.CmdFindCard, "select": idcard.CmdSelectCard, "read": idcard.CmdReadBase,
	"readfp": idcard.CmdReadBaseFP, "status": idcard.CmdSAMStatus, "samid": idcard.CmdSAMID,
	"reset": idcard.CmdResetSAM, "address": idcard.CmdReadNewAddr,
}

// ErrQuit is returned by Command for "quit".
var ErrQuit = fmt.Errorf("sim: quit")

// Command runs one console command line and returns its reply.
func (s *Sim) Command(line string) (string, error) {
	f := strings.Fields(line)
	if len(f) == 0 {
		return "", nil
	}
	switch f[0] {
	case "help", "?":
		return ConsoleHelp, nil
	case "quit", "exit":
		return "bye", ErrQuit
	case "list":
		var b strings.Builder
		for i, c := range s.Deck() {
			fmt.Fprintf(&b, "%d  %-14s %-8s %s\n", i, c.Kind, pii.Mask(c.Name.Reveal()+c.NameEN.Reveal(), 0), pii.MaskID(c.Number.Reveal()))
		}
		return strings.TrimRight(b.String(), "\n"), nil
	case "place":
		if len(f) != 2 {
			return "", fmt.Errorf("sim: usage: place N")
		}
		i, err := strconv.Atoi(f[1])
		if err != nil {
			return "", fmt.Errorf("sim: place: %q is not a card number", f[1])
		}
		if err := s.Place(i); err != nil {
			return "", err
		}
		return fmt.Sprintf("card %d placed (%s)", i, s.Deck()[i].Kind), nil
	case "remove":
		s.Remove()
		return "card removed", nil
	case "unplug":
		s.Unplug()
		return "unplugged: " + s.Path() + " is gone", nil
	case "replug":
		if err := s.Replug(); err != nil {
			return "", err
		}
		return "plugged in: " + s.Path(), nil
	case "clear":
		s.ClearFaults()
		return "faults cleared", nil
	case "baud":
		if len(f) != 2 {
			return "", fmt.Errorf("sim: usage: baud N")
		}
		n, err := strconv.Atoi(f[1])
		if err != nil {
			return "", fmt.Errorf("sim: baud: %q is not a number", f[1])
		}
		if err := s.SetBaud(n); err != nil {
			return "", err
		}
		return fmt.Sprintf("SAM at %d baud", n), nil
	case "throttle":
		if len(f) != 2 || (f[1] != "on" && f[1] != "off") {
			return "", fmt.Errorf("sim: usage: throttle on|off")
		}
		s.SetThrottle(f[1] == "on")
		return "throttle " + f[1], nil
	case "stats":
		st := s.Stats()
		var cmds []string
		for c, n := range st.Requests {
			cmds = append(cmds, fmt.Sprintf("%s=%d", c, n))
		}
		sort.Strings(cmds)
		return fmt.Sprintf("plugged=%v card=%d baud=%d in=%dB out=%dB ignored=%dB bad-frames=%d plugs=%d\nrequests: %s",
			s.Plugged(), s.Placed(), s.Baud(), st.BytesIn, st.BytesOut, st.Ignored, st.BadFrames, st.Plugs,
			strings.Join(cmds, ", ")), nil
	case "fault":
		flt, err := ParseFault(f[1:])
		if err != nil {
			return "", err
		}
		s.Inject(flt)
		return fmt.Sprintf("fault %s queued", flt.Kind), nil
	}
	return "", fmt.Errorf("sim: unknown command %q (help lists them)", f[0])
}

// ParseFault parses "KIND [k=v ...]" as the console's fault command does.
func ParseFault(args []string) (Fault, error) {
	if len(args) == 0 {
		return Fault{}, fmt.Errorf("sim: usage: fault KIND [cmd=…] [times=N] [bytes=N] [gap=DUR] [stall=DUR] [status=HEX]")
	}
	k, err := ParseFaultKind(args[0])
	if err != nil {
		return Fault{}, err
	}
	f := Fault{Kind: k}
	for _, kv := range args[1:] {
		key, v, ok := strings.Cut(kv, "=")
		if !ok {
			return f, fmt.Errorf("sim: fault: %q is not key=value", kv)
		}
		var err error
		switch key {
		case "cmd":
			c, ok := cmdNames[v]
			if !ok {
				return f, fmt.Errorf("sim: fault: unknown cmd %q", v)
			}
			f.Cmd = c
		case "times":
			f.Times, err = strconv.Atoi(v)
		case "bytes":
			f.Bytes, err = strconv.Atoi(v)
		case "gap":
			f.Gap, err = time.ParseDuration(v)
		case "stall":
			f.Stall, err = time.ParseDuration(v)
		case "status":
			var n uint64
			n, err = strconv.ParseUint(v, 16, 8)
			f.Status = idcard.Status(n)
		default:
			return f, fmt.Errorf("sim: fault: unknown key %q", key)
		}
		if err != nil {
			return f, fmt.Errorf("sim: fault: %s: %w", key, err)
		}
	}
	return f, nil
}

// Console reads commands from in, one a line, and writes replies to out,
// until "quit" or ctx is done. At the end of in (a script) it keeps the
// simulator running until ctx is done.
func (s *Sim) Console(ctx context.Context, in io.Reader, out io.Writer) error {
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(in)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			case <-ctx.Done():
				return
			}
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return nil
		case l, ok := <-lines:
			if !ok {
				<-ctx.Done()
				return nil
			}
			reply, err := s.Command(l)
			if err == ErrQuit {
				fmt.Fprintln(out, reply)
				return nil
			}
			if err != nil {
				fmt.Fprintln(out, "error:", err)
				continue
			}
			if reply != "" {
				fmt.Fprintln(out, reply)
			}
		}
	}
}
