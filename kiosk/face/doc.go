// Package face is the kiosk's face capture: it finds and tracks the face in
// camera frames with OpenCV's Haar cascades (a down-scaled grey image, a
// search in the region around the last face, a full search only when the
// track is lost), measures each frame (measure.Frame), gates portrait
// quality (measure), runs the liveness challenges and passive checks
// (liveness), and produces a session.FaceResult: a 3:4 JPEG portrait and
// the liveness evidence.
//
// Capturer implements session.FaceCapturer and gives the UI a live preview.
// The evaluation runner (Evaluate) scores labelled recordings the way
// ISO/IEC 30107-3 does (APCER per attack species, BPCER); see docs/face.md.
//
// All OpenCV work is in this package; the decisions (quality thresholds,
// challenge sequence, verdict, metrics) are pure Go in measure, liveness and
// eval. It does not recognise who the person is (no face matching: the
// authority compares the portrait with the card) and it has no DNN models.
package face
