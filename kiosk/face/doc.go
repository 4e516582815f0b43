// Package face is the kiosk's face capture: it finds the face in camera
// frames with a small DNN detector (fr_detect, every few frames, the largest
// face), follows it between detections with 68 landmarks (fr_landmark),
// judges the eyes with an eye-state model (fr_eye), measures each frame
// (measure.Frame: head pose, eye distance, eye and mouth ratios, sharpness,
// exposure, the non-rigid motion of the landmark points, moiré, frame
// hashes), gates portrait quality (measure), runs the liveness challenges
// and passive checks (liveness), and produces a session.FaceResult: a 3:4
// JPEG portrait and the liveness evidence. A live capture can hand its best
// quality-passing frames with their landmarks to a matcher
// (Options.OnSamples).
//
// The models are verified data (package facemodel: pinned, hashed, loaded
// only when the hash matches); a missing or altered model makes NewCapturer
// and NewAnalyzer fail with an error wrapping facemodel.ErrUnavailable, and
// nothing falls back to another detector. OpenCV's DNN module runs them
// (gocv); camera.SetNumThreads keeps OpenCV on one thread.
//
// Capturer implements session.FaceCapturer and gives the UI a live preview.
// The evaluation runner (Evaluate) scores labelled recordings the way
// ISO/IEC 30107-3 does (APCER per attack species, BPCER, margins); see
// docs/face.md.
//
// All OpenCV work is in this package; the decisions (quality thresholds,
// landmark geometry, challenge sequence, verdict, metrics) are pure Go in
// measure, liveness and eval. It does not say who the person is: 1:1
// matching against the card photo is package facematch's. The learned
// passive anti-spoofing model of the same npm package (fr_liveness) is not
// run: it rejects real people (docs/models.md).
package face
