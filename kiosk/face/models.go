package face

import (
	"fmt"
	"image"

	"gocv.io/x/gocv"

	"eidkiosk/facemodel"
)

// nets are the DNN models the analyzer runs (OpenCV's DNN module, default
// backend, CPU). Each model's input contract (crop, size, scale, mean,
// channel order) is written beside the code that feeds it, so that a
// cleared replacement model drops in (docs/models.md).
type nets struct {
	detect, landmark, eye gocv.Net
}

// loadNets reads the verified models (facemodel.Load checks each file's
// SHA-256). A missing or altered model is an error wrapping
// facemodel.ErrUnavailable; nothing falls back to another detector.
func loadNets(dir string) (*nets, error) {
	n := &nets{}
	for _, m := range []struct {
		name string
		net  *gocv.Net
	}{{facemodel.Detect, &n.detect}, {facemodel.Landmark, &n.landmark}, {facemodel.Eye, &n.eye}} {
		b, err := loadModel(dir, m.name)
		if err != nil {
			n.close()
			return nil, fmt.Errorf("face: %w", err)
		}
		net, err := gocv.ReadNetFromONNXBytes(b)
		if err != nil || net.Empty() {
			n.close()
			return nil, fmt.Errorf("face: model %s does not load in OpenCV: %v: %w", m.name, err, facemodel.ErrUnavailable)
		}
		*m.net = net
	}
	return n, nil
}

// loadModel reads a model from dir, or from the models directory lookup
// when dir is empty.
func loadModel(dir, name string) ([]byte, error) {
	if dir == "" {
		return facemodel.Load(name)
	}
	m, ok := facemodel.Lookup(name)
	if !ok {
		return nil, fmt.Errorf("model %s is not in the manifest: %w", name, facemodel.ErrUnavailable)
	}
	return facemodel.LoadFrom(dir, m)
}

func (n *nets) close() {
	for _, net := range []*gocv.Net{&n.detect, &n.landmark, &n.eye} {
		net.Close() // a zero Net closes as a no-op
	}
}

// inferGrey runs net on the region r of the grey frame resized to
// size×size (into the buffer in), scaled by scale, and copies the first
// len(dst) outputs into dst; false when the net gives fewer.
func (a *Analyzer) inferGrey(net *gocv.Net, r image.Rectangle, in *gocv.Mat, size int, scale float64, dst []float32) ([]float32, bool) {
	reg := a.grey.Region(r)
	gocv.Resize(reg, in, image.Pt(size, size), 0, 0, gocv.InterpolationLinear)
	reg.Close()
	blob := gocv.BlobFromImage(*in, scale, image.Pt(size, size), gocv.NewScalar(0, 0, 0, 0), false, false)
	defer blob.Close()
	net.SetInput(blob, "input")
	out := net.Forward("")
	defer out.Close()
	v, err := out.DataPtrFloat32()
	if err != nil || len(v) < len(dst) {
		return nil, false
	}
	copy(dst, v)
	return dst, true
}
