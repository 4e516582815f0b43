package monitoring

import (
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/image/draw"
	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"
)

// TestRenderDashboards renders both dashboards from a demo run to PNG
// files in $EIDKIOSK_DASHBOARD_SHOTS (skipped when unset): a real
// Prometheus (Debian's prometheus package) scrapes the kiosk's and the
// authority's endpoints every second, with the shipped rules loaded, while
// the scripted citizen walks one visit; every panel's query is then run
// against it as Grafana would (instant for stat, bar and table panels, a
// range for time series) and drawn. It is a faithful rendering of the data,
// not of Grafana's look.
func TestRenderDashboards(t *testing.T) {
	out := os.Getenv("EIDKIOSK_DASHBOARD_SHOTS")
	if out == "" {
		t.Skip("set EIDKIOSK_DASHBOARD_SHOTS=DIR to render the dashboards from a demo run")
	}
	prom, err := exec.LookPath("prometheus")
	if err != nil {
		t.Skip("prometheus is not installed (apt-get install prometheus)")
	}
	d := startDemo(t)
	ks := httptest.NewServer(d.env.System.Metrics.Handler())
	defer ks.Close()
	as := httptest.NewServer(d.env.Stack.Authority.Metrics.Handler())
	defer as.Close()
	dir := t.TempDir()
	rules, _ := filepath.Abs("kiosk.rules.yml")
	arules, _ := filepath.Abs("authority.rules.yml")
	cfg := fmt.Sprintf(`global: {scrape_interval: 1s, evaluation_interval: 1s}
rule_files: [%q, %q]
scrape_configs:
  - job_name: eidkiosk-kiosk
    static_configs: [{targets: [%q]}]
  - job_name: eidkiosk-authority
    static_configs: [{targets: [%q]}]
`, rules, arules, strings.TrimPrefix(ks.URL, "http://"), strings.TrimPrefix(as.URL, "http://"))
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(prom, "--config.file", filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path", filepath.Join(dir, "data"), "--web.listen-address", addr)
	var logs strings.Builder
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	api := "http://" + addr
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		if res, err := http.Get(api + "/-/ready"); err == nil && res.StatusCode == http.StatusOK {
			res.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("prometheus did not become ready:\n%s", logs.String())
		}
	}
	// Prometheus hands its targets to the scrapers a few seconds after it
	// is ready: the visit starts once both endpoints were scraped.
	for deadline := time.Now().Add(60 * time.Second); len(query(t, api, `up == 1`, time.Now(), time.Now(), false)) < 2; time.Sleep(500 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("prometheus did not scrape both endpoints:\n%s", logs.String())
		}
	}
	start := time.Now()
	time.Sleep(2 * time.Second)
	d.visit(t)
	time.Sleep(4 * time.Second)
	end := time.Now()
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"fleet.dashboard.json", "authority.dashboard.json"} {
		png := filepath.Join(out, strings.TrimSuffix(f, ".json")+".png")
		renderDashboard(t, api, f, png, start, end)
		t.Logf("wrote %s", png)
	}
}

type gridPanel struct {
	Title   string                   `json:"title"`
	Type    string                   `json:"type"`
	GridPos struct{ X, Y, W, H int } `json:"gridPos"`
	Field   struct {
		Defaults struct {
			Unit string `json:"unit"`
		} `json:"defaults"`
	} `json:"fieldConfig"`
	Targets []struct {
		Expr   string `json:"expr"`
		Legend string `json:"legendFormat"`
	} `json:"targets"`
}

type series struct {
	name   string
	times  []float64
	values []float64
}

// query runs a panel query as Grafana's variables would expand it.
func query(t *testing.T, api, expr string, start, end time.Time, ranged bool) []series {
	t.Helper()
	span := int(end.Sub(start).Seconds()) + 1
	expr = strings.NewReplacer("$__range", strconv.Itoa(span)+"s", "$__rate_interval", "4s", "$instance", ".*").Replace(expr)
	q := url.Values{"query": {expr}}
	path := "/api/v1/query"
	if ranged {
		path = "/api/v1/query_range"
		q.Set("start", strconv.FormatInt(start.Unix(), 10))
		q.Set("end", strconv.FormatInt(end.Unix(), 10))
		q.Set("step", "1")
	} else {
		q.Set("time", strconv.FormatInt(end.Unix(), 10))
	}
	res, err := http.Get(api + path + "?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var body struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []struct {
				Metric map[string]string `json:"metric"`
				Value  []any             `json:"value"`
				Values [][]any           `json:"values"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil || body.Status != "success" {
		t.Fatalf("query %q: %v %s", expr, err, body.Error)
	}
	var out []series
	for _, r := range body.Data.Result {
		s := series{name: labelsOf(r.Metric)}
		pts := r.Values
		if !ranged {
			pts = [][]any{r.Value}
		}
		for _, p := range pts {
			ts, _ := p[0].(float64)
			v, _ := strconv.ParseFloat(fmt.Sprint(p[1]), 64)
			s.times, s.values = append(s.times, ts), append(s.values, v)
		}
		out = append(out, s)
	}
	return out
}

func labelsOf(m map[string]string) string {
	var ls []string
	for k, v := range m {
		if k == "__name__" || k == "job" {
			continue
		}
		ls = append(ls, k+"="+v)
	}
	sort.Strings(ls)
	return strings.Join(ls, " ")
}

var legendRE = regexp.MustCompile(`\{\{\s*(\w+)\s*\}\}`)

// legend fills a Grafana legend format from a series' labels.
func legend(format, labels string) string {
	if format == "" {
		return labels
	}
	m := map[string]string{}
	for _, kv := range strings.Fields(labels) {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return legendRE.ReplaceAllStringFunc(format, func(s string) string { return m[legendRE.FindStringSubmatch(s)[1]] })
}

func formatValue(v float64, unit string) string {
	switch {
	case math.IsNaN(v):
		return "NaN"
	case unit == "percentunit":
		return strconv.FormatFloat(v*100, 'f', 1, 64) + "%"
	case unit == "s" && math.Abs(v) >= 86400:
		return strconv.FormatFloat(v/86400, 'f', 1, 64) + " d"
	case unit == "s" && math.Abs(v) >= 3600:
		return strconv.FormatFloat(v/3600, 'f', 1, 64) + " h"
	case unit == "s" && math.Abs(v) >= 60:
		return strconv.FormatFloat(v/60, 'f', 1, 64) + " min"
	case unit == "s":
		return strconv.FormatFloat(v, 'g', 3, 64) + " s"
	case unit == "reqps":
		return strconv.FormatFloat(v, 'g', 3, 64) + " req/s"
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}

var (
	bg      = color.RGBA{0x11, 0x12, 0x17, 0xff}
	panelBG = color.RGBA{0x18, 0x1b, 0x1f, 0xff}
	border  = color.RGBA{0x2c, 0x30, 0x35, 0xff}
	text    = color.RGBA{0xcc, 0xcc, 0xdc, 0xff}
	dim     = color.RGBA{0x8e, 0x8e, 0x9e, 0xff}
	palette = []color.RGBA{{0x73, 0xbf, 0x69, 0xff}, {0xf2, 0xcc, 0x0c, 0xff}, {0x57, 0x94, 0xf2, 0xff},
		{0xff, 0x78, 0x0a, 0xff}, {0xf2, 0x49, 0x5c, 0xff}, {0xb8, 0x77, 0xd9, 0xff}, {0x8a, 0xb8, 0xff, 0xff}, {0x96, 0xd9, 0x8d, 0xff}}
)

const (
	unitW = 60 // pixels per grid column (24 columns)
	unitH = 34 // pixels per grid row
)

func fill(img *image.RGBA, r image.Rectangle, c color.Color) {
	draw.Draw(img, r, image.NewUniform(c), image.Point{}, draw.Src)
}

// label draws s with its baseline at (x, y), scaled by an integer factor.
func label(img *image.RGBA, x, y int, s string, c color.Color, scale int) {
	face := basicfont.Face7x13
	w := font.MeasureString(face, s).Ceil()
	if w == 0 {
		return
	}
	small := image.NewRGBA(image.Rect(0, 0, w, 13))
	dr := font.Drawer{Dst: small, Src: image.NewUniform(c), Face: face, Dot: fixed.P(0, 10)}
	dr.DrawString(s)
	dst := image.Rect(x, y-10*scale, x+w*scale, y+3*scale)
	draw.NearestNeighbor.Scale(img, dst, small, small.Bounds(), draw.Over, nil)
}

func clip(s string, px int) string {
	if n := px / 7; len(s) > n && n > 1 {
		return s[:n-1] + "~"
	}
	return s
}

func line(img *image.RGBA, x0, y0, x1, y1 int, c color.Color) {
	dx, dy := abs(x1-x0), -abs(y1-y0)
	sx, sy := sign(x1-x0), sign(y1-y0)
	e := dx + dy
	for {
		img.Set(x0, y0, c)
		img.Set(x0, y0+1, c)
		if x0 == x1 && y0 == y1 {
			return
		}
		if e2 := 2 * e; e2 >= dy {
			e += dy
			x0 += sx
		} else {
			e += dx
			y0 += sy
		}
	}
}

func abs(a int) int {
	if a < 0 {
		return -a
	}
	return a
}

func sign(a int) int {
	switch {
	case a < 0:
		return -1
	case a > 0:
		return 1
	}
	return 0
}

func renderDashboard(t *testing.T, api, file, out string, start, end time.Time) {
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Title  string      `json:"title"`
		Panels []gridPanel `json:"panels"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	rows := 0
	for _, p := range d.Panels {
		rows = max(rows, p.GridPos.Y+p.GridPos.H)
	}
	const top = 40
	img := image.NewRGBA(image.Rect(0, 0, 24*unitW, top+rows*unitH+8))
	fill(img, img.Bounds(), bg)
	label(img, 10, 28, d.Title+"   "+start.UTC().Format("2006-01-02 15:04:05")+" - "+end.UTC().Format("15:04:05")+" UTC, one demo visit", text, 2)
	for _, p := range d.Panels {
		r := image.Rect(p.GridPos.X*unitW+4, top+p.GridPos.Y*unitH+4, (p.GridPos.X+p.GridPos.W)*unitW-4, top+(p.GridPos.Y+p.GridPos.H)*unitH-4)
		if p.Type == "row" {
			label(img, r.Min.X+4, r.Min.Y+18, p.Title, text, 1)
			fill(img, image.Rect(r.Min.X, r.Max.Y-2, r.Max.X, r.Max.Y-1), border)
			continue
		}
		fill(img, r, border)
		fill(img, r.Inset(1), panelBG)
		label(img, r.Min.X+8, r.Min.Y+16, clip(p.Title, r.Dx()-16), text, 1)
		body := image.Rect(r.Min.X+8, r.Min.Y+26, r.Max.X-8, r.Max.Y-6)
		unit := p.Field.Defaults.Unit
		var all []series
		for _, q := range p.Targets {
			for _, s := range query(t, api, q.Expr, start, end, p.Type == "timeseries") {
				s.name = legend(q.Legend, s.name)
				all = append(all, s)
			}
		}
		switch p.Type {
		case "timeseries":
			drawSeries(img, body, all, unit, start, end)
		case "stat":
			drawStat(img, body, all, unit)
		case "bargauge":
			drawBars(img, body, all, unit)
		default:
			drawTable(img, body, all, unit)
		}
	}
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
}

func noData(img *image.RGBA, r image.Rectangle) {
	label(img, r.Min.X+r.Dx()/2-21, r.Min.Y+r.Dy()/2, "No data", dim, 1)
}

func drawStat(img *image.RGBA, r image.Rectangle, all []series, unit string) {
	if len(all) == 0 {
		noData(img, r)
		return
	}
	w := r.Dx() / len(all)
	for i, s := range all {
		v := formatValue(s.values[len(s.values)-1], unit)
		scale := 3
		for scale > 1 && len(v)*7*scale > w-8 {
			scale--
		}
		x := r.Min.X + i*w
		label(img, x+4, r.Min.Y+r.Dy()/2+8, v, palette[i%len(palette)], scale)
		label(img, x+4, r.Max.Y-4, clip(s.name, w-8), dim, 1)
	}
}

func drawBars(img *image.RGBA, r image.Rectangle, all []series, unit string) {
	if len(all) == 0 {
		noData(img, r)
		return
	}
	top := 0.0
	for _, s := range all {
		top = max(top, s.values[len(s.values)-1])
	}
	h := min(r.Dy()/len(all), 28)
	for i, s := range all {
		if (i+1)*h > r.Dy() {
			break
		}
		y := r.Min.Y + i*h
		v := s.values[len(s.values)-1]
		label(img, r.Min.X, y+h/2+4, clip(s.name, 150), text, 1)
		bar := image.Rect(r.Min.X+160, y+3, r.Max.X-90, y+h-3)
		fill(img, bar, border)
		if top > 0 && !math.IsNaN(v) {
			fill(img, image.Rect(bar.Min.X, bar.Min.Y, bar.Min.X+int(float64(bar.Dx())*v/top), bar.Max.Y), palette[i%len(palette)])
		}
		label(img, r.Max.X-84, y+h/2+4, formatValue(v, unit), text, 1)
	}
}

func drawTable(img *image.RGBA, r image.Rectangle, all []series, unit string) {
	if len(all) == 0 {
		noData(img, r)
		return
	}
	for i, s := range all {
		y := r.Min.Y + 12 + i*16
		if y > r.Max.Y {
			break
		}
		label(img, r.Min.X, y, clip(s.name, r.Dx()-100), text, 1)
		label(img, r.Max.X-90, y, formatValue(s.values[len(s.values)-1], unit), text, 1)
	}
}

// lastValue is a series' last number (NaN when it has none).
func lastValue(vs []float64) float64 {
	for i := len(vs) - 1; i >= 0; i-- {
		if !math.IsNaN(vs[i]) {
			return vs[i]
		}
	}
	return math.NaN()
}

func drawSeries(img *image.RGBA, r image.Rectangle, all []series, unit string, start, end time.Time) {
	legendRows := min(len(all), 4)
	plot := image.Rect(r.Min.X+70, r.Min.Y+4, r.Max.X-4, r.Max.Y-16-legendRows*14)
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, s := range all {
		for _, v := range s.values {
			if !math.IsNaN(v) && !math.IsInf(v, 0) {
				lo, hi = min(lo, v), max(hi, v)
			}
		}
	}
	if math.IsInf(lo, 1) {
		noData(img, r)
		return
	}
	lo = min(lo, 0)
	if hi <= lo {
		hi = lo + 1
	}
	fill(img, image.Rect(plot.Min.X, plot.Max.Y, plot.Max.X, plot.Max.Y+1), border)
	for i := 0; i <= 2; i++ {
		v := lo + (hi-lo)*float64(i)/2
		y := plot.Max.Y - int(float64(plot.Dy())*float64(i)/2)
		fill(img, image.Rect(plot.Min.X, y, plot.Max.X, y+1), border)
		label(img, r.Min.X, y+4, clip(formatValue(v, unit), 66), dim, 1)
	}
	label(img, plot.Min.X, plot.Max.Y+13, start.UTC().Format("15:04:05"), dim, 1)
	label(img, plot.Max.X-56, plot.Max.Y+13, end.UTC().Format("15:04:05"), dim, 1)
	t0, t1 := float64(start.Unix()), float64(end.Unix())
	for i, s := range all {
		c := palette[i%len(palette)]
		px, py, have := 0, 0, false
		for j, ts := range s.times {
			v := s.values[j]
			if math.IsNaN(v) || math.IsInf(v, 0) {
				have = false
				continue
			}
			x := plot.Min.X + int(float64(plot.Dx())*(ts-t0)/max(t1-t0, 1))
			y := plot.Max.Y - int(float64(plot.Dy())*(v-lo)/(hi-lo))
			if have {
				line(img, px, py, x, y, c)
			} else {
				img.Set(x, y, c)
			}
			px, py, have = x, y, true
		}
		if i < legendRows {
			ly := plot.Max.Y + 28 + i*14
			fill(img, image.Rect(r.Min.X+70, ly-8, r.Min.X+82, ly-2), c)
			label(img, r.Min.X+88, ly, clip(s.name+"  last "+formatValue(lastValue(s.values), unit), r.Dx()-100), text, 1)
		}
	}
}
