package facemodel

// Package is an npm package the models come from, pinned by version and by
// the SHA-256 of the tarball `npm pack` downloads.
type Package struct {
	Name    string // npm name
	Version string
	SHA256  string // of the .tgz `npm pack NAME@VERSION` writes
	Licence string // as the package declares it
}

// Spec is NAME@VERSION, as npm takes it.
func (p Package) Spec() string { return p.Name + "@" + p.Version }

// Tarball is the file name `npm pack` writes for the package.
func (p Package) Tarball() string { return p.Name + "-" + p.Version + ".tgz" }

// Model is one model file of the manifest.
type Model struct {
	Name    string  // what callers ask Load for: "detect", "landmark", ...
	File    string  // its file name in the models directory
	SHA256  string  // of the file
	Size    int64   // bytes
	Package Package // where it comes from
	Path    string  // its path inside the package's tarball
	Licence string  // what is known of the weights' licence
	Use     string  // what eidkiosk uses it for
}

// Source is where the model comes from: the npm package and the path inside it.
func (m Model) Source() string { return "npm " + m.Package.Spec() + " " + m.Path }

// Faceplugin is the npm package of small ONNX face models that OpenCV 4.6's
// DNN module runs unchanged (see docs/models.md for what is and is not known
// of it).
var Faceplugin = Package{
	Name:    "faceplugin-face-recognition-js",
	Version: "0.0.1",
	SHA256:  "7ea06031d9a3f83753254fcff60506a07b81b46fc84d4ee024cd041f260ec1ba",
	Licence: "MIT (package.json; LICENSE © 2021 gitguanqi)",
}

// Names of the models in the manifest.
const (
	Detect   = "detect"   // face boxes (Ultra-Light-Fast-Generic-Face-Detector RFB-320)
	Landmark = "landmark" // 68 landmarks in a face box
	Eye      = "eye"      // open/closed eye
	Feature  = "feature"  // 512-d face embedding for 1:1 matching
)

// Manifest is every model eidkiosk ships, in the order `kioskctl face models`
// lists them. The package's passive anti-spoofing model (fr_liveness,
// sha256 afa783b7…c32d) is deliberately not shipped: it rejects real
// people (docs/models.md).
var Manifest = []Model{
	{Name: Detect, File: "fr_detect.onnx", Size: 1217758, Package: Faceplugin, Path: "package/model/fr_detect.onnx",
		SHA256:  "6c0256ccd3164f844736a401faf936ec2930764a87ae39442180887d0c5c8854",
		Licence: "MIT (Linzaer/Ultra-Light-Fast-Generic-Face-Detector-1MB, version-RFB-320, trained on WIDER FACE)",
		Use:     "face detection"},
	{Name: Landmark, File: "fr_landmark.onnx", Size: 1163742, Package: Faceplugin, Path: "package/model/fr_landmark.onnx",
		SHA256:  "f10b0ba1d2a8a099adefede1ebf3733e44fe370715e7303dbeb7f59c02142258",
		Licence: "package MIT; origin and training data unknown",
		Use:     "68 landmarks: tracking, head pose, challenges, alignment"},
	{Name: Eye, File: "fr_eye.onnx", Size: 207130, Package: Faceplugin, Path: "package/model/fr_eye.onnx",
		SHA256:  "1afcea006abc1ccac3c517022abde0aa092bed74ff3c9fe6878483ef9e6e38de",
		Licence: "package MIT; origin and training data unknown",
		Use:     "eye state: blink challenge, eyes-open quality"},
	{Name: Feature, File: "fr_feature.onnx", Size: 4884269, Package: Faceplugin, Path: "package/model/fr_feature.onnx",
		SHA256:  "87aacdfe57510db2af90c0251df680e8eec88f122ee94712121d09bcaaaf3581",
		Licence: "package MIT; MobileFaceNet shape, training data unknown",
		Use:     "512-d embedding: 1:1 matching"},
}

// Lookup returns the manifest entry named name.
func Lookup(name string) (Model, bool) {
	for _, m := range Manifest {
		if m.Name == name {
			return m, true
		}
	}
	return Model{}, false
}

// Packages returns the distinct packages of models, in manifest order.
func Packages(models []Model) []Package {
	var out []Package
	seen := map[string]bool{}
	for _, m := range models {
		if !seen[m.Package.Spec()] {
			seen[m.Package.Spec()] = true
			out = append(out, m.Package)
		}
	}
	return out
}
